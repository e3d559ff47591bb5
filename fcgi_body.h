/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_body.h
 * @brief The request body on its way to the app's STDIN: read from the
 *        client as fast as the app takes it; chunked bodies spooled whole
 *        (memory, then an unlinked temporary file, at most
 *        FastCgiSpoolLimit) so that CONTENT_LENGTH can be sent; with
 *        -keep-conn a small body kept whole, so that the request can be
 *        sent again on a new connection.
 */

#ifndef FCGIX_BODY_H
#define FCGIX_BODY_H

#include "apr_buckets.h"
#include "httpd.h"

#include "fcgi_config.h"
#include "fcgi_proto.h"

/** Request body per STDIN record: the most that 8-byte padding would
 * allow, so a padding app-side reader never meets a record PHP-FPM would
 * refuse. */
#define FCGIX_BODY_CHUNK FCGIX_MAX_PADDED_CONTENT_LEN

/** A request's body. */
typedef struct {
    apr_bucket_brigade *bb; /**< body not yet sent */
    int spooled;            /**< bb holds the whole body */
    int eos;                /**< no more body from the client */
    int taken;              /**< some body went towards the app */
    char *small;            /**< a whole small body, kept for a resend */
    apr_size_t small_len;   /**< its length */
    apr_off_t max_body;     /**< FcgidMaxRequestLen: a chunked body is
                                 spooled and refused (413) beyond it;
                                 < 0: none (set before prepare) */
} fcgix_body_t;

/**
 * Set up an empty body.
 * @param b  the body
 * @param r  the request; its pool holds the body
 */
void fcgix_body_init(fcgix_body_t *b, request_rec *r);

/**
 * Decide how the body travels: none, streamed, or (chunked, by
 * FastCgiChunkedBody) refused or spooled whole.
 * @param b            the body
 * @param r            the request
 * @param app          the app's path, for log lines
 * @param dconf        the directory's configuration
 * @param spooled_len  out: the length to announce, or -1 to keep httpd's
 * @return OK, or the HTTP status to answer (logged)
 */
int fcgix_body_prepare(fcgix_body_t *b, request_rec *r, const char *app,
                       const fcgix_dir_conf_t *dconf, apr_off_t *spooled_len);

/**
 * With -keep-conn, read a body of at most FCGIX_BODY_CHUNK bytes whole
 * into b->small, so that it can be sent again.
 * @param b          the body
 * @param r          the request
 * @param keep_conn  the app's effective -keep-conn
 * @return OK, or the HTTP status to answer
 */
int fcgix_body_keep_small(fcgix_body_t *b, request_rec *r, int keep_conn);

/**
 * The next piece of body for a STDIN record, reading the client when
 * nothing is left over. Marks the body taken.
 * @param b      the body
 * @param r      the request
 * @param app    the app's path, for log lines
 * @param block  APR_BLOCK_READ, or APR_NONBLOCK_READ to return at once
 *               with nothing when the client has sent nothing more yet
 * @param buf    where the piece goes
 * @param len    in: the room in @a buf (at most FCGIX_BODY_CHUNK); out:
 *               the piece's length; 0 at the end of the body, or when a
 *               non-blocking read found nothing (the body is not done)
 * @return OK, or the HTTP status to answer (logged)
 */
int fcgix_body_next(fcgix_body_t *b, request_rec *r, const char *app,
                    apr_read_type_e block, unsigned char *buf, apr_size_t *len);

/**
 * Whether the whole body was read and handed out.
 * @param b  the body
 * @return 1 or 0
 */
int fcgix_body_done(const fcgix_body_t *b);

#endif /* FCGIX_BODY_H */
