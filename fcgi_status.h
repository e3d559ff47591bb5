/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_status.h
 * @brief The status page: `SetHandler fastcgi-status` shows the
 *        application classes (FastCgiServer pools, dynamic apps, external
 *        servers) of the request's virtual host, or every one with
 *        FastCgiStatusShowAll On, with their processes, as HTML, as JSON
 *        (?json) or as mod_status's "Key: value" lines (?auto); and a
 *        FastCGI section in mod_status's server-status when mod_status
 *        is loaded.
 *
 * Read-only: the process manager owns the state on the scoreboard; the
 * page copies what it needs from the board and the configuration into a
 * snapshot, then renders the snapshot. Access control is the admin's, as
 * for server-status.
 */

#ifndef FCGIX_STATUS_H
#define FCGIX_STATUS_H

#include "apr_hash.h"
#include "apr_pools.h"

#include "fcgi_sb.h"

/** The handler name of the status page. */
#define FCGIX_STATUS_HANDLER "fastcgi-status"

/**
 * Tell the status page what to read for this configuration generation;
 * called in post_config. Both are forgotten when @a pconf is cleared,
 * so a page never reads a previous generation's board.
 * @param pconf     the configuration pool
 * @param sb        the scoreboard, or NULL when no PM runs
 * @param apps      the FastCgiServer and FastCgiExternalServer apps, by
 *                  path (fcgix_app_t *)
 */
void fcgix_status_init(apr_pool_t *pconf, fcgix_sb_t *sb, apr_hash_t *apps);

/**
 * Register the fastcgi-status handler and mod_status's optional
 * status_hook (which does nothing when mod_status is not loaded).
 * @param p  the pool register_hooks gets
 */
void fcgix_status_register_hooks(apr_pool_t *p);

#endif /* FCGIX_STATUS_H */
