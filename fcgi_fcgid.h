/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_fcgid.h
 * @brief mod_fcgid's vocabulary on the module's core: the fcgid_module
 *        record's directive table and what the rest of the module needs
 *        to know about the two records. docs/design/fcgid.md.
 */

#ifndef FCGIX_FCGID_H
#define FCGIX_FCGID_H

#include "httpd.h"
#include "http_config.h"

/** mod_fcgid 2.3.9's directives and their old names (fcgid_module). */
extern const command_rec fcgix_fcgid_cmds[];

/** Whether @a m is one of this copy's two module records. */
int fcgix_is_our_record(const module *m);

/** The file this copy of the module was loaded from (for messages). */
const char *fcgix_own_file(void);

#endif /* FCGIX_FCGID_H */
