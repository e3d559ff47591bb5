/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_check.h
 * @brief Whole-configuration checks (check_config hook, also run by
 *        `apachectl -t`).
 */

#ifndef FCGIX_CHECK_H
#define FCGIX_CHECK_H

#include "httpd.h"

/**
 * check_config hook: refuse a configuration whose apps cannot run (a
 * missing or non-executable FastCgiServer file, a socket path too long,
 * -user without a wrapper, -max-requests with -port, FcgidMaxProcesses
 * against FastCgiConfig -maxProcesses) and warn about risky settings
 * (-port, a remote -host) and mod_fcgid directives with no effect here. Each
 * line names the directive and its file:line.
 * @return OK, or HTTP_INTERNAL_SERVER_ERROR after logging every error
 */
int fcgix_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                       server_rec *s);

/**
 * Whether the real mod_fcgid is loaded next to this module: logged
 * (FCGIX00115, naming the line to remove) and 1, else 0. Called from
 * pre_config, before the directives run (see fcgi_check.c).
 * @param s  the main server, or NULL (the message goes to stderr)
 */
int fcgix_refuse_real_fcgid(server_rec *s);

#endif /* FCGIX_CHECK_H */
