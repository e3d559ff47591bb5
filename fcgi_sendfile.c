/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_sendfile.c
 * @brief X-Sendfile (see fcgi_sendfile.h).
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apr_portable.h"
#include "apr_strings.h"

#include "httpd.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"

#include "fcgi_sendfile.h"

#define HEADER "X-Sendfile"

const char *fcgix_sendfile_take_header(request_rec *r)
{
    const char *v = apr_table_get(r->err_headers_out, HEADER);

    if (v == NULL) {
        v = apr_table_get(r->headers_out, HEADER);
    }
    if (v == NULL) {
        return NULL; /* nearly every response: nothing to unset */
    }
    apr_table_unset(r->err_headers_out, HEADER);
    apr_table_unset(r->headers_out, HEADER);
    return v;
}

const char *fcgix_sendfile_dir(apr_pool_t *p, const char *dir, const char **out)
{
    char real[PATH_MAX];
    struct stat st;

    if (dir[0] != '/') {
        return "not an absolute path";
    }
    if (realpath(dir, real) == NULL) {
        return apr_psprintf(p, "cannot be resolved: %s", strerror(errno));
    }
    if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        return "not a directory";
    }
    *out = apr_pstrdup(p, real);
    return NULL;
}

/* Whether path (resolved) is inside one of dirs (resolved). */
static int inside_allowed(const char *path, const apr_array_header_t *dirs)
{
    const char *const *d = (const char *const *)dirs->elts;
    int i;

    for (i = 0; i < dirs->nelts; i++) {
        size_t len = strlen(d[i]);

        if (strcmp(d[i], "/") == 0) {
            return 1;
        }
        if (strncmp(path, d[i], len) == 0 && path[len] == '/') {
            return 1;
        }
    }
    return 0;
}

/* Where the open file is, from the kernel: the path as resolved when it
 * was opened, whatever the names point at now. */
static const char *path_of_fd(apr_pool_t *p, int fd)
{
    char link[64], real[PATH_MAX];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, real, sizeof(real) - 1);
    if (n <= 0) {
        return NULL;
    }
    real[n] = '\0';
    return apr_pstrdup(p, real);
}

/* The app's Content-Type counts unless it set none or a placeholder:
 * PHP's default text/html, or a generic binary type. */
static const char *app_type(const request_rec *r, const char *type_seen)
{
    const char *t = r->content_type;

    if (t == NULL || t == type_seen || *t == '\0'
        || !strncasecmp(t, "text/html", 9)
        || !strncasecmp(t, "application/octet-stream", 24)
        || !strncasecmp(t, "application/x-httpd-php", 23)) {
        return NULL;
    }
    return t;
}

static apr_status_t close_fd(void *data)
{
    close(*(int *)data);
    return APR_SUCCESS;
}

/* Open value for reading without following it into a FIFO's wait; the
 * descriptor is closed with the request's pool. Returns the descriptor,
 * or -1 with errno. */
static int open_named(apr_pool_t *p, const char *value)
{
    int fd = open(value, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

    if (fd >= 0) {
        int *kept = apr_palloc(p, sizeof(*kept));

        *kept = fd;
        apr_pool_cleanup_register(p, kept, close_fd, apr_pool_cleanup_null);
    }
    return fd;
}

/* sendfile() only where EnableSendfile is on, as for a static file (the
 * core output filter looks at the file's flag alone). */
static apr_int32_t sendfile_flag(const request_rec *r)
{
    const core_dir_config *core = ap_get_core_module_config(r->per_dir_config);

    return AP_SENDFILE_ENABLED(core->enable_sendfile);
}

int fcgix_sendfile_open(request_rec *r, const apr_array_header_t *dirs,
                        const char *value, const char *type_seen,
                        fcgix_sendfile_t **out, const char **why)
{
    fcgix_sendfile_t *sf;
    apr_os_file_t fd;
    struct stat st;
    char resolved[PATH_MAX];
    const char *real;
    int err;

    *out = NULL;
    if (dirs == NULL || dirs->nelts == 0) {
        return OK;
    }
    if (value[0] != '/') {
        *why = "not an absolute path";
        return HTTP_FORBIDDEN;
    }
    /* Nothing outside is even opened (a device may act on an open)... */
    if (realpath(value, resolved) == NULL) {
        err = errno;
        *why = apr_psprintf(r->pool, "cannot be resolved: %s", strerror(err));
        return err == ENOENT || err == ENOTDIR ? HTTP_NOT_FOUND
                                               : HTTP_FORBIDDEN;
    }
    if (!inside_allowed(resolved, dirs)) {
        *why = apr_psprintf(r->pool, "%s is outside every FastCgiSendfilePath",
                            resolved);
        return HTTP_FORBIDDEN;
    }
    /* ...and what is opened is checked again where it really is, since a
     * name may have been swapped in between. */
    fd = open_named(r->pool, value);
    if (fd < 0) {
        err = errno;
        *why = apr_psprintf(r->pool, "cannot be opened: %s", strerror(err));
        return err == ENOENT || err == ENOTDIR ? HTTP_NOT_FOUND
                                               : HTTP_FORBIDDEN;
    }
    real = path_of_fd(r->pool, fd);
    if (real == NULL) {
        *why = "its place cannot be told (is /proc mounted?)";
        return HTTP_FORBIDDEN;
    }
    if (!inside_allowed(real, dirs)) {
        *why = apr_psprintf(r->pool, "%s is outside every FastCgiSendfilePath",
                            real);
        return HTTP_FORBIDDEN;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *why = "not a regular file";
        return HTTP_FORBIDDEN;
    }
    sf = apr_pcalloc(r->pool, sizeof(*sf));
    sf->path = real;
    sf->app_type = app_type(r, type_seen);
    if (apr_os_file_put(&sf->file, &fd, APR_FOPEN_READ | sendfile_flag(r),
                        r->pool)
            != APR_SUCCESS
        || apr_file_info_get(&sf->finfo, APR_FINFO_NORM, sf->file)
               != APR_SUCCESS) {
        *why = "cannot be read";
        return HTTP_FORBIDDEN;
    }
    sf->finfo.fname = real;
    *out = sf;
    return OK;
}

/* The file's type from its name (mod_mime), unless the app set one. */
static void set_type(request_rec *r, const fcgix_sendfile_t *sf)
{
    if (sf->app_type) {
        ap_set_content_type(r, sf->app_type);
        return;
    }
    r->content_type = NULL;
    r->content_encoding = NULL;
    ap_run_type_checker(r);
}

int fcgix_sendfile_serve(request_rec *r, fcgix_sendfile_t *sf)
{
    apr_bucket_brigade *bb;
    int rc;

    r->filename = apr_pstrdup(r->pool, sf->path);
    r->finfo = sf->finfo;
    set_type(r, sf);
    /* The file's validators, not the app's. */
    apr_table_unset(r->err_headers_out, "Last-Modified");
    apr_table_unset(r->err_headers_out, "ETag");
    apr_table_unset(r->headers_out, "Last-Modified");
    apr_table_unset(r->headers_out, "ETag");
    r->mtime = 0;
    ap_update_mtime(r, sf->finfo.mtime);
    ap_set_last_modified(r);
    ap_set_etag(r);
    if (r->status == HTTP_OK) {
        apr_table_setn(r->headers_out, "Accept-Ranges", "bytes");
        rc = ap_meets_conditions(r);
        if (rc == HTTP_NOT_MODIFIED) {
            r->status = rc;
            return OK;
        }
        if (rc != OK) {
            return rc;
        }
    }
    ap_set_content_length(r, sf->finfo.size);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (!r->header_only && sf->finfo.size > 0) {
        apr_bucket *e =
            apr_brigade_insert_file(bb, sf->file, 0, sf->finfo.size, r->pool);
        const core_dir_config *core =
            ap_get_core_module_config(r->per_dir_config);

        /* EnableMMAP Off, as for a static file */
        if (core->enable_mmap == ENABLE_MMAP_OFF) {
            (void)apr_bucket_file_enable_mmap(e, 0);
        }
    }
    APR_BRIGADE_INSERT_TAIL(bb,
                            apr_bucket_eos_create(r->connection->bucket_alloc));
    return ap_pass_brigade_fchk(r, bb, "X-Sendfile of %s", sf->path);
}
