/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_fcgid_int.h
 * @brief What the fcgid vocabulary's configuration files share:
 *        fcgi_fcgid_config.c (the directives) and fcgi_fcgid_opts.c (the
 *        registry, merges, effective values, post_config and checks),
 *        and what fcgi_config.c calls.
 */

#ifndef FCGIX_FCGID_INT_H
#define FCGIX_FCGID_INT_H

#include "httpd.h"
#include "http_config.h"

#include "fcgi_config.h"
#include "fcgi_fcgid.h"

/** Every field of @a f unset. */
void fcgix_fcgid_srv_unset(fcgix_fcgid_srv_t *f);

/** Every option of @a o unset. */
void fcgix_fcgid_opts_unset(fcgix_fcgid_opts_t *o);

/** A virtual host's Fcgid* settings over the main server's, field by
 *  field, into @a out. */
void fcgix_fcgid_srv_merge(apr_pool_t *p, const fcgix_fcgid_srv_t *base,
                           const fcgix_fcgid_srv_t *add,
                           fcgix_fcgid_srv_t *out);

/** A section's wrappers over its parent's (per suffix), into @a out. */
void fcgix_fcgid_dir_merge(apr_pool_t *p, const fcgix_fcgid_dir_t *base,
                           const fcgix_fcgid_dir_t *add,
                           fcgix_fcgid_dir_t *out);

/**
 * The registry's entry for the command line @a line of the directive
 * being read. In the server configuration: argv[0] (ServerRoot-relative)
 * must exist, and the line is registered. In .htaccess: the line must
 * already be registered (by the server configuration); else the error
 * names the .htaccess file and line.
 * @return NULL and *out set, or the error
 */
const char *fcgix_fcgid_command_get(cmd_parms *cmd, const char *line,
                                    const fcgix_command_t **out);

/** Note a directive with no effect here, for the FCGIX00117 line. */
void fcgix_fcgid_no_effect(cmd_parms *cmd);

/** A FastCgi auth name in mod_fcgid's meaning: refused in .htaccess
 *  without FileInfo; NULL when allowed. */
const char *fcgix_fcgid_auth_context(cmd_parms *cmd);

/** Set an auth slot in mod_fcgid's meaning: @a line's command (from the
 *  registry), vocab FCGID, compat (only Variable-* headers pass). */
const char *fcgix_fcgid_auth_set(cmd_parms *cmd, fcgix_auth_conf_t *auth,
                                 const char *line);

#endif /* FCGIX_FCGID_INT_H */
