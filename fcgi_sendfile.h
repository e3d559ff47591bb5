/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_sendfile.h
 * @brief X-Sendfile: an app names a file in a response header and httpd
 *        serves it as it serves a static file (sendfile, Range, the
 *        conditional requests), when the file is inside a directory that
 *        FastCgiSendfilePath allows for the request. The header never
 *        reaches the client; where no FastCgiSendfilePath applies it is
 *        dropped and the app's own body is sent.
 */

#ifndef FCGIX_SENDFILE_H
#define FCGIX_SENDFILE_H

#include "apr_file_info.h"
#include "apr_file_io.h"
#include "apr_tables.h"
#include "httpd.h"

/** A file an app asked httpd to serve, open and checked. */
typedef struct {
    const char *path;     /**< where it is, symlinks resolved */
    apr_file_t *file;     /**< open for reading */
    apr_finfo_t finfo;    /**< its size, times, inode */
    const char *app_type; /**< the app's Content-Type, or NULL when it set
                               none or a placeholder */
} fcgix_sendfile_t;

/**
 * Take X-Sendfile out of the response headers the app sent (both
 * tables). Called for every response, so that the header never reaches
 * the client.
 * @param r  the request, the app's headers scanned into it
 * @return the header's value, or NULL
 */
const char *fcgix_sendfile_take_header(request_rec *r);

/**
 * Open the file an app named, if @a dirs allow it: the path is resolved
 * (symlinks followed) from the open file itself, so that nothing swapped
 * in after the check is served.
 * @param r          the request (its pool holds the file)
 * @param dirs       the allowed directories (char *, resolved), or NULL
 * @param value      the header's value
 * @param type_seen  r->content_type before the app's headers were
 *                   scanned: the same pointer after means the app set none
 * @param out        the file, or NULL when no directory is allowed (the
 *                   header is then ignored)
 * @param why        out: on an error, what went wrong (for the log line)
 * @return OK, HTTP_FORBIDDEN (outside the allowed directories, not a
 *         regular file, not readable) or HTTP_NOT_FOUND (no such file)
 */
int fcgix_sendfile_open(request_rec *r, const apr_array_header_t *dirs,
                        const char *value, const char *type_seen,
                        fcgix_sendfile_t **out, const char **why);

/**
 * Serve the file as the response, with the app's status and headers:
 * Last-Modified and ETag of the file, 304/412 for the conditional
 * headers, Content-Length, Range through httpd's byterange filter, the
 * body by sendfile where httpd's EnableSendfile allows.
 * @param r   the request
 * @param sf  the file
 * @return what the handler returns
 */
int fcgix_sendfile_serve(request_rec *r, fcgix_sendfile_t *sf);

/**
 * Resolve a FastCgiSendfilePath directory at configuration time.
 * @param p     where the result lives
 * @param dir   the directive's argument
 * @param out   the resolved directory
 * @return NULL, or why @a dir cannot be used
 */
const char *fcgix_sendfile_dir(apr_pool_t *p, const char *dir,
                               const char **out);

#endif /* FCGIX_SENDFILE_H */
