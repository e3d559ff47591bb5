/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/*
 * fcgi_filter: a libfcgi app in the FastCGI FILTER role, for the tests.
 *
 *   fcgi_filter ADDRESS    listen on a Unix socket path or host:port
 *   fcgi_filter            use fd 0 (run by the process manager)
 *
 * It reads STDIN to its end (libfcgi's FCGX_StartFilterData() wants
 * that), then the FCGI_DATA stream, and answers the data in upper case,
 * with headers saying what it was given:
 *   X-Role            FCGI_ROLE
 *   X-Data-Length     FCGI_DATA_LENGTH
 *   X-Data-Last-Mod   FCGI_DATA_LAST_MOD
 *   X-Data-Read       the FCGI_DATA bytes it read
 *   X-Stdin-Read      the STDIN bytes it read
 *   X-Query           QUERY_STRING
 * The headers go out before the data is read, so the body streams. The
 * query string changes that:
 *   filter_status     "Status: 404 Not Found" and a short body, no data
 *   filter_crash      exit before any output
 */

#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fastcgi.h>
#include <fcgiapp.h>

#define CHUNK 16384

static const char *param(FCGX_Request *req, const char *name)
{
    const char *v = FCGX_GetParam(name, req->envp);

    return v ? v : "(unset)";
}

static long drain(FCGX_Stream *in)
{
    char buf[CHUNK];
    long total = 0;
    int n;

    while ((n = FCGX_GetStr(buf, (int)sizeof(buf), in)) > 0) {
        total += n;
    }
    return total;
}

static void handle(FCGX_Request *req)
{
    const char *qs = param(req, "QUERY_STRING");
    long stdin_read = drain(req->in), data_read = 0;
    char buf[CHUNK];
    int n, i;

    if (strstr(qs, "filter_crash")) {
        _exit(3);
    }
    if (FCGX_StartFilterData(req->in) != 0) {
        FCGX_PutS("Status: 500 Internal Server Error\r\n"
                  "Content-Type: text/plain\r\n\r\nno FCGI_DATA stream\n",
                  req->out);
        return;
    }
    if (strstr(qs, "filter_status")) {
        drain(req->in);
        FCGX_PutS("Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n"
                  "the filter says 404\n",
                  req->out);
        return;
    }
    FCGX_FPrintF(req->out,
                 "Content-Type: text/plain\r\nX-Role: %s\r\n"
                 "X-Data-Length: %s\r\nX-Data-Last-Mod: %s\r\n"
                 "X-Stdin-Read: %ld\r\nX-Query: %s\r\n\r\n",
                 param(req, "FCGI_ROLE"), param(req, "FCGI_DATA_LENGTH"),
                 param(req, "FCGI_DATA_LAST_MOD"), stdin_read, qs);
    while ((n = FCGX_GetStr(buf, (int)sizeof(buf), req->in)) > 0) {
        for (i = 0; i < n; i++) {
            buf[i] = (char)toupper((unsigned char)buf[i]);
        }
        FCGX_PutStr(buf, n, req->out);
        data_read += n;
    }
    /* a trailer line in the body: how much data was read */
    FCGX_FPrintF(req->out, "\n[data read: %ld]\n", data_read);
}

static int is_socket(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

int main(int argc, char **argv)
{
    FCGX_Request req;
    int sock = FCGI_LISTENSOCK_FILENO;

    signal(SIGPIPE, SIG_IGN);
    if (FCGX_Init() != 0) {
        return 1;
    }
    if (argc > 1 && (sock = FCGX_OpenSocket(argv[1], 64)) < 0) {
        fprintf(stderr, "fcgi_filter: cannot listen on %s\n", argv[1]);
        return 1;
    }
    if (argc <= 1 && !is_socket(sock)) {
        fprintf(stderr, "fcgi_filter: fd %d is not a socket\n", sock);
        return 1;
    }
    if (FCGX_InitRequest(&req, sock, 0) != 0) {
        return 1;
    }
    while (FCGX_Accept_r(&req) >= 0) {
        handle(&req);
        FCGX_Finish_r(&req);
    }
    return 0;
}
