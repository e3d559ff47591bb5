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

#endif /* FCGIX_LOG_H */
