/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_connect.c
 * @brief Opening a socket to an app (see fcgi_connect.h).
 */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "apr_network_io.h"
#include "apr_strings.h"

#include "fcgi_connect.h"

/* Connect without waiting when the app can take the connection now (the
 * common case: one system call). Otherwise wait at most @timeout_ms:
 * on poll() for TCP; for a Unix socket whose backlog is full (EAGAIN,
 * which cannot be polled) in a blocking connect() under SO_SNDTIMEO,
 * which Linux honours there. */
static int connect_bounded(int fd, const struct sockaddr *sa, socklen_t len,
                           int timeout_ms)
{
    struct pollfd pfd;
    struct timeval tv;
    socklen_t elen = sizeof(int);
    int rc, err = 0;

    if (connect(fd, sa, len) == 0) {
        return 0;
    }
    if (errno == EINPROGRESS) {
        pfd.fd = fd;
        pfd.events = POLLOUT;
        do {
            rc = poll(&pfd, 1, timeout_ms);
        } while (rc < 0 && errno == EINTR);
        if (rc == 0) {
            errno = ETIMEDOUT;
        }
        if (rc <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen)) {
            return -1;
        }
        errno = err;
        return err ? -1 : 0;
    }
    if (errno != EAGAIN) {
        return -1;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    rc = connect(fd, sa, len);
    err = errno;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    errno = err;
    return rc;
}

static int connect_unix(const fcgix_app_t *app, int timeout_ms, int *fd)
{
    struct sockaddr_un sun;
    size_t len = strlen(app->socket_path);

    if (len >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, app->socket_path, len + 1);
    *fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (*fd < 0) {
        return -1;
    }
    return connect_bounded(*fd, (struct sockaddr *)&sun, sizeof(sun),
                           timeout_ms);
}

static int connect_tcp(const fcgix_app_t *app, apr_pool_t *p, int timeout_ms,
                       int *fd)
{
    apr_sockaddr_t *sa = app->addr;

    /* Resolved once in post_config; again here only if that failed. */
    if (sa == NULL
        && apr_sockaddr_info_get(&sa, app->host, APR_UNSPEC,
                                 (apr_port_t)app->port, 0, p)
               != APR_SUCCESS) {
        errno = EHOSTUNREACH;
        return -1;
    }
    *fd = socket(sa->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (*fd < 0) {
        return -1;
    }
    return connect_bounded(*fd, (struct sockaddr *)&sa->sa, sa->salen,
                           timeout_ms);
}

const char *fcgix_connect_address(const fcgix_app_t *app, apr_pool_t *p)
{
    if (app->socket_path) {
        return app->socket_path;
    }
    /* "[::1]:9000", as the status page writes an IPv6 member */
    return apr_psprintf(
        p, app->host && strchr(app->host, ':') ? "[%s]:%d" : "%s:%d", app->host,
        app->port);
}

int fcgix_connect(const fcgix_app_t *app, apr_pool_t *p, int timeout_ms,
                  int *fd)
{
    *fd = -1;
    return app->socket_path ? connect_unix(app, timeout_ms, fd)
                            : connect_tcp(app, p, timeout_ms, fd);
}
