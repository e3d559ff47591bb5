/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_headers.h
 * @brief Private to the request path: the response header hand-off. The
 *        header block is collected under caps, parsed by httpd's own
 *        scanner (its hardening applies), stripped of the app's framing
 *        and of X-Accel-Buffering, and turned into the response: a local
 *        Location with 200 is an internal redirect, an absolute one a
 *        302, as mod_cgi does. -nph responses bypass all of it.
 */

#ifndef FCGIX_HEADERS_H
#define FCGIX_HEADERS_H

#include "fcgi_req.h"

/**
 * Check a slice of header bytes against the caps (the block, one line),
 * then keep a copy in req->hdr_bb.
 * @param req   the exchange
 * @param data  the bytes, up to the end of the block at most
 * @param len   their length
 * @return FCGIX_STEP_CONTINUE, or FCGIX_STEP_FAILED (502, logged)
 */
fcgix_step_t fcgix_headers_collect(fcgix_req_t *req, const unsigned char *data,
                                   size_t len);

/**
 * The header block is complete (or the app ended without one): hand it
 * to httpd and decide what the response is.
 * @param req  the exchange
 * @return FCGIX_STEP_CONTINUE when the body follows (req->headers_done),
 *         FCGIX_STEP_FINISHED when the response is decided (req->status:
 *         a redirect, 304, 500 for malformed headers, a HEAD), or
 *         FCGIX_STEP_FAILED (502, logged)
 */
fcgix_step_t fcgix_headers_finish(fcgix_req_t *req);

/**
 * The header scanner (req->scan) refused a byte: 502, logged with what
 * and in which line of the header block.
 * @param req  the exchange
 * @return FCGIX_STEP_FAILED
 */
fcgix_step_t fcgix_headers_refuse(fcgix_req_t *req);

/**
 * -nph (or an app named nph-*): the app writes the whole HTTP response,
 * status line included; take the request's output past every filter
 * above the connection, and count the headers as sent.
 * @param req  the exchange
 */
void fcgix_headers_start_nph(fcgix_req_t *req);

#endif /* FCGIX_HEADERS_H */
