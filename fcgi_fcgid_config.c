/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_fcgid_config.c
 * @brief mod_fcgid 2.3.9's directives (the fcgid_module record's table),
 *        parsed into the core's configuration. docs/design/fcgid.md,
 *        section 2.
 */

#include "httpd.h"
#include "http_config.h"

#include "fcgi_fcgid.h"

const command_rec fcgix_fcgid_cmds[] = {
    {NULL}
};
