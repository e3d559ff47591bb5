/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_stderr.h
 * @brief The STDERR relay: an app's FCGI_STDERR stream, reassembled into
 *        lines across records and logged (FCGIX00030), never sent to the
 *        client; capped per line and per request.
 */

#ifndef FCGIX_STDERR_H
#define FCGIX_STDERR_H

#include "apr.h"
#include "httpd.h"

/** A request's STDERR state; all zero before the first byte. */
typedef struct {
    char *line;        /**< the line being assembled, or NULL */
    size_t len;        /**< its length so far */
    apr_size_t logged; /**< bytes logged in this request */
    apr_off_t dropped; /**< bytes over the per-request cap */
} fcgix_stderr_t;

/**
 * Take the content of one STDERR record: log every line it completes.
 * @param e     the request's STDERR state
 * @param r     the request, for log lines and memory
 * @param app   the app's path, named in each line
 * @param data  the record's content
 * @param len   its length
 */
void fcgix_stderr_take(fcgix_stderr_t *e, request_rec *r, const char *app,
                       const unsigned char *data, size_t len);

/**
 * The request ended: log the last, unterminated line, and say how much
 * was not logged.
 * @param e    the request's STDERR state
 * @param r    the request
 * @param app  the app's path
 */
void fcgix_stderr_end(fcgix_stderr_t *e, request_rec *r, const char *app);

#endif /* FCGIX_STDERR_H */
