/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_authz.h
 * @brief The AUTHORIZER role (FastCgiAuthenticator, FastCgiAuthorizer,
 *        FastCgiAccessChecker): its request hooks and auth providers.
 */

#ifndef FCGIX_AUTHZ_H
#define FCGIX_AUTHZ_H

#include "apr_pools.h"

#include "fcgi_config.h"

/**
 * Look up the application a FastCgiServer or FastCgiExternalServer
 * defines for a path.
 * @param path  the path, as in the directive
 * @return the application, or NULL when none is defined (or before
 *         post_config)
 */
typedef const fcgix_app_t *fcgix_app_find_fn(const char *path);

/**
 * Register the access, authentication, authorization and force_authn
 * hooks of the AUTHORIZER role and the providers "fastcgi" (authn) and
 * "fastcgi-authorizer" (authz); called from the module's register_hooks.
 * @param p     the pool given to register_hooks
 * @param find  how to find a defined application by path; called per
 *              request, so it may read what post_config sets up later
 */
void fcgix_authz_register_hooks(apr_pool_t *p, fcgix_app_find_fn *find);

#endif /* FCGIX_AUTHZ_H */
