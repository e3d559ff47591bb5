/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_authorizer.c
 * @brief A libfcgi app in the AUTHORIZER role for the tests. It answers by
 *        FCGI_APACHE_ROLE and by words in REQUEST_URI:
 *   AUTHENTICATOR   user alice, password secret: 200; else 401 with
 *                   WWW-Authenticate and a page ("nochallenge": 401 with
 *                   a page and no WWW-Authenticate)
 *   ACCESS_CHECKER  "blocked": 403 with a page; else 200
 *   AUTHORIZER      "deny": 403 with X-Why and a page; "nobody": 403 with
 *                   no page; else 200
 *   any role        "crash": abort(); "slow": 5 s late; "garbage": no
 *                   header block;
 *                   "status500": 500 with a page
 * A 200 carries X-Plain-Header and Variable-FCGIX_<ROLE> with what the app saw:
 * its role, the user, and which of CONTENT_LENGTH, PATH_INFO, PATH_TRANSLATED
 * and SCRIPT_NAME it received (it should receive none).
 *
 * Usage: fcgi_authorizer [socket-path | host:port]   (none: fd 0)
 */

#include <fcgiapp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *param(FCGX_Request *rq, const char *name)
{
    const char *v = FCGX_GetParam(name, rq->envp);

    return v ? v : "";
}

static int has(FCGX_Request *rq, const char *name)
{
    return FCGX_GetParam(name, rq->envp) != NULL;
}

static void allow(FCGX_Request *rq, const char *role)
{
    FCGX_FPrintF(rq->out,
                 "Status: 200\r\n"
                 "X-Plain-Header: plain\r\n"
                 "Variable-FCGIX_%s: role=%s fcgi_role=%s user=%s "
                 "content_length=%d path_info=%d path_translated=%d "
                 "script_name=%d\r\n\r\n",
                 role, role, param(rq, "FCGI_ROLE"), param(rq, "REMOTE_USER"),
                 has(rq, "CONTENT_LENGTH"), has(rq, "PATH_INFO"),
                 has(rq, "PATH_TRANSLATED"), has(rq, "SCRIPT_NAME"));
}

static void deny(FCGX_Request *rq, int status, const char *extra,
                 const char *page)
{
    FCGX_FPrintF(rq->out, "Status: %d\r\n%s", status, extra);
    if (page) {
        FCGX_FPrintF(rq->out, "Content-Type: text/plain\r\n\r\n%s", page);
    }
    else {
        FCGX_PutS("\r\n", rq->out);
    }
}

static void answer(FCGX_Request *rq)
{
    const char *role = param(rq, "FCGI_APACHE_ROLE");
    const char *uri = param(rq, "REQUEST_URI");

    if (strstr(uri, "crash")) {
        abort();
    }
    if (strstr(uri, "slow")) {
        sleep(5); /* longer than the test's -idle-timeout */
    }
    if (strstr(uri, "garbage")) {
        FCGX_PutS("this is not a header block", rq->out);
    }
    else if (strstr(uri, "status500")) {
        deny(rq, 500, "", "the authorizer broke\n");
    }
    else if (strcmp(role, "AUTHENTICATOR") == 0) {
        if (strstr(uri, "nochallenge")) {
            deny(rq, 401, "", "a 401 without a challenge\n");
        }
        else if (strcmp(param(rq, "REMOTE_USER"), "alice") == 0
                 && strcmp(param(rq, "REMOTE_PASSWD"), "secret") == 0) {
            allow(rq, role);
        }
        else {
            deny(rq, 401, "WWW-Authenticate: Basic realm=\"fcgi\"\r\n",
                 "wrong user or password\n");
        }
    }
    else if (strcmp(role, "ACCESS_CHECKER") == 0) {
        if (strstr(uri, "blocked")) {
            deny(rq, 403, "", "access checker says no\n");
        }
        else {
            allow(rq, role);
        }
    }
    else if (strstr(uri, "nobody")) {
        deny(rq, 403, "", NULL);
    }
    else if (strstr(uri, "deny")) {
        deny(rq, 403, "X-Why: policy\r\n",
             "custom deny page from the authorizer\n");
    }
    else {
        allow(rq, role[0] ? role : "NONE");
    }
}

int main(int argc, char **argv)
{
    FCGX_Request rq;
    int sock = 0;

    if (FCGX_Init() != 0) {
        return 1;
    }
    if (argc > 1 && (sock = FCGX_OpenSocket(argv[1], 16)) < 0) {
        return 1;
    }
    FCGX_InitRequest(&rq, sock, 0);
    while (FCGX_Accept_r(&rq) >= 0) {
        answer(&rq);
        FCGX_Finish_r(&rq);
    }
    return 0;
}
