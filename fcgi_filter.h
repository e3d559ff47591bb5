/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_filter.h
 * @brief The FastCGI FILTER role as an httpd output filter: FastCgiFilter
 *        NAME APP-PATH registers NAME; the response body it is given is
 *        collected (file buckets as they are, other bytes up to
 *        FCGIX_FILTER_MEMORY_MAX) and sent to the app as FCGI_DATA, and
 *        the app's answer replaces the response.
 */

#ifndef FCGIX_FILTER_H
#define FCGIX_FILTER_H

#include "httpd.h"
#include "http_config.h"

#include "fcgi_authz.h"

/** The most bytes of a response to filter held in memory (a static
 * file's bytes are not: they stay in the file). Past it the response
 * is refused: 500, FCGIX00039. */
#define FCGIX_FILTER_MEMORY_MAX (16 * 1024 * 1024)

/** FastCgiFilter NAME APP-PATH (server config, virtual host). */
const char *fcgix_cmd_filter(cmd_parms *cmd, void *dummy, const char *name,
                             const char *path);

/**
 * Check that every FastCgiFilter names a defined app; set how apps are
 * found at request time.
 * @param s     the main server (virtual hosts follow)
 * @param find  looks an app up by path
 * @return NULL, or what is wrong (for the log; httpd then stops)
 */
const char *fcgix_filter_post_config(apr_pool_t *p, server_rec *s,
                                     fcgix_app_find_fn *find);

#endif /* FCGIX_FILTER_H */
