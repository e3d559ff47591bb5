/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_log.h
 * @brief Log tags of the module's files, in a header of their own so that
 *        a file includes it for logging alone, not the request path's
 *        header. No httpd or APR: any layer may include it.
 */

#ifndef FCGIX_LOG_H
#define FCGIX_LOG_H

/** Our own log tags; never httpd's AH numbers. Each number is used once
 *  in the tree. */
#define FCGIX_LOGNO(n) "FCGIX" #n ": "

/** In place of APLOG_USE_MODULE: the module's log lines carry the index
 *  of whichever of its two records is loaded (fastcgi_x_module when it
 *  is, else fcgid_module), so "LogLevel fastcgi_x:..." or
 *  "LogLevel fcgid:..." applies. Expanded only in httpd files.
 *  fcgix_log_module_index is set by mod_fastcgi_x.c's register_hooks. */
#define FCGIX_USE_LOG_MODULE                                                   \
    extern int fcgix_log_module_index;                                         \
    AP_MAYBE_UNUSED(static int *const aplog_module_index) =                    \
        &fcgix_log_module_index

#endif /* FCGIX_LOG_H */
