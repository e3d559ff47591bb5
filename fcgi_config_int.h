/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_config_int.h
 * @brief What the configuration's two files share: fcgi_config.c (create,
 *        merge, the simple directives, the directive table) and
 *        fcgi_config_app.c (the app directives and their options).
 */

#ifndef FCGIX_CONFIG_INT_H
#define FCGIX_CONFIG_INT_H

#include "httpd.h"
#include "http_config.h"

#include "fcgi_config.h"

/* One word a directive takes, and what it stands for. */
typedef struct {
    const char *word; /* NULL ends a table */
    int value;        /* >= 0 */
} fcgix_cfg_keyword_t;

/** The value of @a arg among @a words (case-insensitive), or -1. */
int fcgix_cfg_find_keyword(const fcgix_cfg_keyword_t *words, const char *arg);

/** The error for a directive's argument that is none of those allowed:
 *  "Directive: 'arg' is <what>". */
const char *fcgix_cfg_bad_value(cmd_parms *cmd, const char *arg,
                                const char *what);

/** The main server's configuration, for directives allowed only there;
 *  @a err says so when the directive stands in a virtual host. */
fcgix_srv_conf_t *fcgix_cfg_global(cmd_parms *cmd, const char **err);

/** A size in bytes: digits, then optionally K, M or G (powers of 1024).
 *  @return 0 and *out set, or -1 when @a s is not one or does not fit */
int fcgix_cfg_parse_size(const char *s, apr_off_t *out);

/** Every option of @a o unset. */
void fcgix_cfg_opts_unset(fcgix_app_opts_t *o);

/** FastCgiServer and FastCgiExternalServer (cmd->info: the app's kind). */
const char *fcgix_cmd_app(cmd_parms *cmd, void *dummy, const char *args);

/** FastCgiConfig. */
const char *fcgix_cmd_config(cmd_parms *cmd, void *dummy, const char *args);

#endif /* FCGIX_CONFIG_INT_H */
