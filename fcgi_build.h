/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_build.h
 * @brief Which build of the module a record kept across restarts belongs
 *        to. httpd loads the module's file anew at every restart, and
 *        what the module keeps in httpd's process pool (the running PM,
 *        the statistics table, the members' board) outlives the code
 *        that made it. After an upgrade that replaced the file, the new
 *        code must not read the old records: their layout may differ. So
 *        they are kept under keys that name the build: the module file's
 *        device, inode, size and modification time.
 */

#ifndef FCGIX_BUILD_H
#define FCGIX_BUILD_H

#include "apr_pools.h"

/** @p name followed by this build's identity, allocated from @p p. */
const char *fcgix_build_key(apr_pool_t *p, const char *name);

#endif /* FCGIX_BUILD_H */
