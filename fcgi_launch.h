/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_launch.h
 * @brief Starting the process manager from httpd's parent (post_config)
 *        and restarting or stopping it; what httpd's children close of it
 *        (child_init).
 */

#ifndef FCGIX_LAUNCH_H
#define FCGIX_LAUNCH_H

#include "apr_hash.h"
#include "apr_pools.h"
#include "httpd.h"

/**
 * post_config's process-manager part: on every pass but the first
 * (dry-run) one, make FastCgiIpcDir, turn the FastCgiServer apps and
 * FastCgiConfig into the PM's configuration, create the scoreboard and the
 * PM's control socket, set up fcgi_managed and fcgi_status, and fork the
 * PM, which httpd's parent restarts if it dies and stops with @a pconf.
 * @param pconf     the configuration pool
 * @param s         the main server
 * @param registry  the applications, by path (fcgix_registry())
 * @return OK, or HTTP_INTERNAL_SERVER_ERROR (logged)
 */
int fcgix_launch_post_config(apr_pool_t *pconf, server_rec *s,
                             apr_hash_t *registry);

/**
 * child_init's part: an httpd child closes the control socket and the
 * startup pipe, which only the PM and httpd's parent use.
 */
void fcgix_launch_child_init(void);

/**
 * How many requests httpd can serve at once (ServerLimit x ThreadLimit,
 * at most 65536): the holder records a shared table wants, so that the
 * parent can take back what a dead child held.
 */
int fcgix_launch_holder_records(void);

struct fcgix_pm_config_s;

/**
 * Fill the PM's tables for keyed classes (virtual hosts, command lines,
 * the per-user cap, suexec) and the room per dynamic class, from the
 * configuration (fcgi_launch_fcgid.c). After fcgix_fcgid_post_config().
 */
void fcgix_launch_tables(apr_pool_t *p, server_rec *s,
                         struct fcgix_pm_config_s *cfg);

#endif /* FCGIX_LAUNCH_H */
