/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_ipc.c
 * @brief The IPC directory and the PM's control socket, set up by httpd's
 *        root parent in post_config.
 *
 * The User (the PM, the apps, every tenant's script) owns the IPC
 * directory and may own the directory it is in. A path that root looks up
 * twice there can lead somewhere else the second time: a link renamed
 * over a socket between bind() and chown() hands any file of root's to
 * the User. So root opens each component once, relative to the one
 * before and without following links it did not make, then uses only the
 * descriptor. Whatever must happen inside the directory is done by a
 * child that has become the User: it cannot do anything there that the
 * User could not do anyway.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* renameat2, initgroups, MSG_CMSG_CLOEXEC */
#endif

#include "httpd.h"
#include "http_log.h"
#include "unixd.h"

#include "apr_general.h"
#include "apr_strings.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcgi_ipc.h"
#include "fcgi_log.h"
#include "fcgi_pm.h"

FCGIX_USE_LOG_MODULE;

/* How long httpd's parent waits for a child it runs as the User: the
 * child makes a few system calls in one directory. */
#define AS_USER_TIMEOUT_S 10
/* Symbolic links one walk follows at most (the kernel's own limit). */
#define MAX_LINKS 40

/* ------------------------------------------------------------------ */
/* Running a task as the User                                          */
/* ------------------------------------------------------------------ */

/* What a task run as the User tells httpd's parent. */
typedef struct {
    int err;       /* 0, or the errno of the step that failed */
    char what[48]; /* that step */
    char name[64]; /* the name the control socket is bound at */
} reply_t;

/* A task returns a descriptor to hand to httpd's parent, or -1. */
typedef int user_task_fn(void *baton, reply_t *reply);

static void fail(reply_t *reply, const char *what)
{
    reply->err = errno;
    apr_cpystrn(reply->what, what, sizeof(reply->what));
}

/* The User's supplementary groups, as httpd gives its children. */
static int set_groups(gid_t gid)
{
    const char *name = ap_unixd_config.user_name;

    if (name && name[0] != '#') {
        return initgroups(name, gid);
    }
    return setgroups(1, &gid);
}

/* For good, as the PM does: the child can then do no more than the
 * User's own processes can (and, no longer dumpable after setuid(), it
 * cannot be traced by them). */
static int become_user(void)
{
    gid_t gid = ap_unixd_config.group_id;

    if (geteuid() != 0) {
        return 0; /* httpd is not root: there is nothing to give up */
    }
    if (setgid(gid) != 0 || set_groups(gid) != 0
        || setuid(ap_unixd_config.user_id) != 0) {
        return -1;
    }
    return 0;
}

/* Room for one descriptor in a message's control data. */
typedef union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
} fd_space_t;

/* A message of one reply_t, with room for one descriptor. */
static void reply_msg(struct msghdr *msg, struct iovec *iov, fd_space_t *ctl,
                      const reply_t *reply)
{
    memset(msg, 0, sizeof(*msg));
    memset(ctl, 0, sizeof(*ctl));
    iov->iov_base = (void *)reply;
    iov->iov_len = sizeof(*reply);
    msg->msg_iov = iov;
    msg->msg_iovlen = 1;
    msg->msg_control = ctl->buf;
    msg->msg_controllen = sizeof(ctl->buf);
}

static void send_reply(int chan, const reply_t *reply, int fd)
{
    fd_space_t ctl;
    struct iovec iov;
    struct msghdr msg;
    struct cmsghdr *c;

    reply_msg(&msg, &iov, &ctl, reply);
    if (fd < 0) {
        msg.msg_control = NULL; /* no descriptor to pass */
        msg.msg_controllen = 0;
    }
    else {
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    while (sendmsg(chan, &msg, 0) < 0 && errno == EINTR) {
    }
}

/* The child's reply, and the descriptor it sent or -1. */
static int recv_reply(int chan, reply_t *reply)
{
    fd_space_t ctl;
    struct iovec iov;
    struct msghdr msg;
    struct cmsghdr *c;
    ssize_t n;
    int fd = -1;

    reply_msg(&msg, &iov, &ctl, reply);
    do {
        n = recvmsg(chan, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    for (c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            memcpy(&fd, CMSG_DATA(c), sizeof(int));
        }
    }
    if (n != (ssize_t)sizeof(*reply)) {
        errno = n < 0 ? errno : ECHILD;
        fail(reply, "hear from the child run as the User to");
    }
    reply->what[sizeof(reply->what) - 1] = '\0';
    reply->name[sizeof(reply->name) - 1] = '\0';
    if (reply->err != 0 && fd >= 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Run @task in a child that has become the User; its reply in *reply. */
static int as_user(user_task_fn *task, void *baton, reply_t *reply)
{
    struct timeval limit = {AS_USER_TIMEOUT_S, 0};
    int chan[2], fd = -1;
    pid_t pid;

    memset(reply, 0, sizeof(*reply));
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) != 0) {
        fail(reply, "create a socket pair to");
        return -1;
    }
    pid = fork();
    if (pid == 0) {
        close(chan[0]);
        if (become_user() != 0) {
            fail(reply, "become the User to");
        }
        else {
            fd = task(baton, reply);
        }
        send_reply(chan[1], reply, fd);
        _exit(0);
    }
    close(chan[1]);
    if (pid < 0) {
        fail(reply, "fork a child to");
    }
    else {
        setsockopt(chan[0], SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
        fd = recv_reply(chan[0], reply);
        /* It has answered, or never will: nothing it does now matters. */
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
    }
    close(chan[0]);
    return fd;
}

/* ------------------------------------------------------------------ */
/* Reaching the IPC directory                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    apr_pool_t *p;
    int fd;         /* the directory reached so far */
    int root_only;  /* only root can add, remove or rename entries there */
    int links;      /* symbolic links followed so far */
    const char *at; /* on failure: the component, and what went wrong */
    const char *why;
} walk_t;

typedef struct {
    int dir_fd;
    const char *name;
    mode_t mode;
} mkdir_task_t;

static int walk_path(walk_t *w, const char *path, int create);

/* Then whatever the directory holds, links included, is root's doing. */
static int only_root_writes(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && st.st_uid == 0
           && !(st.st_mode & (S_IWGRP | S_IWOTH));
}

static int open_dir_at(int dir_fd, const char *name)
{
    return openat(dir_fd, name,
                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int is_link_at(int dir_fd, const char *name)
{
    struct stat st;

    return fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
           && S_ISLNK(st.st_mode);
}

static void walk_to(walk_t *w, int fd)
{
    if (w->fd >= 0) {
        close(w->fd);
    }
    w->fd = fd;
    w->root_only = only_root_writes(fd);
}

static int walk_fail(walk_t *w, const char *name, const char *why)
{
    w->at = apr_pstrdup(w->p, name);
    w->why = why ? why : apr_pstrdup(w->p, strerror(errno));
    return -1;
}

static int mkdir_task(void *baton, reply_t *reply)
{
    const mkdir_task_t *t = baton;

    if (mkdirat(t->dir_fd, t->name, t->mode) != 0 && errno != EEXIST) {
        fail(reply, "create");
    }
    return -1;
}

/* Root makes a missing directory only where nobody else could swap
 * something in for it before root opens it; elsewhere the User makes it
 * (the User could make it there anyway). */
static int make_dir_at(walk_t *w, const char *name, mode_t mode)
{
    mkdir_task_t t;
    reply_t reply;

    if (w->root_only || geteuid() != 0) {
        return mkdirat(w->fd, name, mode) == 0 || errno == EEXIST ? 0 : -1;
    }
    t.dir_fd = w->fd;
    t.name = name;
    t.mode = mode;
    as_user(mkdir_task, &t, &reply);
    errno = reply.err;
    return reply.err ? -1 : 0;
}

/* A link is followed only where root alone could have made it (such as
 * /var/run -> /run); its target is walked the same way. */
static int follow_link(walk_t *w, const char *name, int create)
{
    char *target;
    ssize_t n;

    if (!w->root_only) {
        return walk_fail(w, name,
                         "is a symbolic link in a directory that others "
                         "can write (not followed)");
    }
    if (++w->links > MAX_LINKS) {
        errno = ELOOP;
        return walk_fail(w, name, NULL);
    }
    target = apr_palloc(w->p, PATH_MAX);
    n = readlinkat(w->fd, name, target, PATH_MAX - 1);
    if (n < 0) {
        return walk_fail(w, name, NULL);
    }
    target[n] = '\0';
    return walk_path(w, target, create);
}

static int walk_into(walk_t *w, const char *name, int create)
{
    int fd = open_dir_at(w->fd, name);

    if (fd < 0 && errno == ENOENT && create) {
        if (make_dir_at(w, name, 0755) != 0) {
            return walk_fail(w, name, NULL);
        }
        fd = open_dir_at(w->fd, name);
    }
    if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)
        && is_link_at(w->fd, name)) {
        return follow_link(w, name, create);
    }
    if (fd < 0) {
        return walk_fail(w, name, NULL);
    }
    walk_to(w, fd);
    return 0;
}

/* Walk @path (absolute: from /) one component at a time. */
static int walk_path(walk_t *w, const char *path, int create)
{
    char *copy = apr_pstrdup(w->p, path), *name, *state;
    int fd;

    if (path[0] == '/') {
        fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            return walk_fail(w, "/", NULL);
        }
        walk_to(w, fd);
    }
    for (name = apr_strtok(copy, "/", &state); name;
         name = apr_strtok(NULL, "/", &state)) {
        if (strcmp(name, ".") != 0 && walk_into(w, name, create) != 0) {
            return -1;
        }
    }
    return 0;
}

/* The IPC directory itself is never reached through a link, whoever
 * made the link. */
static int open_last(walk_t *w, const char *name)
{
    int fd = open_dir_at(w->fd, name);

    if (fd < 0 && errno == ENOENT) {
        if (make_dir_at(w, name, S_IRWXU) != 0) {
            return walk_fail(w, name, NULL);
        }
        fd = open_dir_at(w->fd, name);
    }
    if (fd < 0) {
        return walk_fail(w, name,
                         (errno == ENOTDIR || errno == ELOOP)
                                 && is_link_at(w->fd, name)
                             ? "is a symbolic link (not followed)"
                             : NULL);
    }
    return fd;
}

int fcgix_ipc_dir_open(apr_pool_t *p, const char *dir, fcgix_ipc_dir_t *out)
{
    char *parent = apr_pstrdup(p, dir), *last;
    size_t len = strlen(parent);
    walk_t w;

    memset(out, 0, sizeof(*out));
    memset(&w, 0, sizeof(w));
    out->fd = w.fd = -1;
    w.p = p;
    while (len > 1 && parent[len - 1] == '/') {
        parent[--len] = '\0';
    }
    last = strrchr(parent, '/');
    if (parent[0] != '/' || last[1] == '\0' || strcmp(last, "/..") == 0
        || strcmp(last, "/.") == 0) {
        out->at = dir;
        out->why = "is not an absolute path of a directory below /";
        return -1;
    }
    *last++ = '\0';
    if (walk_path(&w, *parent ? parent : "/", 1) == 0) {
        out->fd = open_last(&w, last);
    }
    out->parent_root_only = w.root_only;
    out->at = w.at;
    out->why = w.why;
    if (w.fd >= 0) {
        close(w.fd);
    }
    return out->fd >= 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Inside the IPC directory, as the User                               */
/* ------------------------------------------------------------------ */

typedef struct {
    apr_pool_t *p;
    const fcgix_ipc_names_t *names;
    server_rec *s;
} control_task_t;

/* 16 hex digits nobody can guess (or, failing that, hard to). */
static const char *random_hex(apr_pool_t *p)
{
    unsigned char b[8];

    if (apr_generate_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        long long t = (long long)time(NULL) * 1000003 + getpid();

        memcpy(b, &t, sizeof(b));
    }
    return apr_psprintf(p, "%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                        b[3], b[4], b[5], b[6], b[7]);
}

/* "<prefix><class>.<slot>", a dynamic app's socket. */
static int is_dynamic_name(const char *name, const char *prefix)
{
    static const char digits[] = "0123456789";
    size_t n = strlen(prefix);

    if (strncmp(name, prefix, n) != 0) {
        return 0;
    }
    name += n;
    n = strspn(name, digits);
    if (n == 0 || name[n] != '.') {
        return 0;
    }
    name += n + 1;
    n = strspn(name, digits);
    return n > 0 && name[n] == '\0';
}

static int of_generation(const fcgix_ipc_names_t *names, const char *name)
{
    return strcmp(name, names->control) == 0
           || (names->statics
               && apr_hash_get(names->statics, name, APR_HASH_KEY_STRING))
           || (names->dynamic && is_dynamic_name(name, names->dynamic));
}

static const char *kind_of(mode_t mode)
{
    if (S_ISSOCK(mode)) {
        return "a socket";
    }
    if (S_ISREG(mode)) {
        return "a regular file";
    }
    if (S_ISLNK(mode)) {
        return "a symbolic link";
    }
    if (S_ISDIR(mode)) {
        return "a directory";
    }
    return S_ISFIFO(mode) ? "a FIFO" : "a device file";
}

static const char *cannot(apr_pool_t *p, const char *what)
{
    return apr_pstrcat(p, "cannot ", what, " it: ", strerror(errno), NULL);
}

/* A directory that is not empty: emptying it would mean walking a tree
 * that its maker may keep changing; a new name that nobody can guess
 * frees the socket's name at once. */
static const char *move_aside(apr_pool_t *p, int dir_fd, const char *name)
{
    const char *aside;
    int i;

    for (i = 0; i < 3; i++) {
        aside = apr_pstrcat(p, ".fcgix-moved-", random_hex(p), NULL);
        if (renameat2(dir_fd, name, dir_fd, aside, RENAME_NOREPLACE) == 0) {
            return apr_pstrcat(p, "it is not empty: moved it to ", aside, NULL);
        }
        if (errno != EEXIST) {
            break;
        }
    }
    return cannot(p, "move");
}

/* Free @name: unlinkat() never follows a link, it removes the link. */
static const char *free_name(apr_pool_t *p, int dir_fd, const char *name,
                             mode_t mode)
{
    if (!S_ISDIR(mode)) {
        return unlinkat(dir_fd, name, 0) == 0 ? "removed it"
                                              : cannot(p, "remove");
    }
    if (unlinkat(dir_fd, name, AT_REMOVEDIR) == 0) {
        return "removed it";
    }
    return errno == ENOTEMPTY || errno == EEXIST ? move_aside(p, dir_fd, name)
                                                 : cannot(p, "remove");
}

/* Anything at a socket name of the generation now starting is a socket
 * an earlier run left, or the User's doing (the names are predictable):
 * it must not keep the new PM from binding there. */
static void clear_generation(const control_task_t *t)
{
    const fcgix_ipc_names_t *names = t->names;
    int fd = openat(names->dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *e;
    struct stat st;
    const char *done;

    if (d == NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, t->s,
                     FCGIX_LOGNO(00401) "FastCgiIpcDir %s: cannot list it "
                                        "to clear the new sockets' paths",
                     names->dir);
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    while ((e = readdir(d)) != NULL) {
        if (!of_generation(names, e->d_name)
            || fstatat(names->dir_fd, e->d_name, &st, AT_SYMLINK_NOFOLLOW)
                   != 0) {
            continue;
        }
        done = free_name(t->p, names->dir_fd, e->d_name, st.st_mode);
        ap_log_error(APLOG_MARK,
                     S_ISSOCK(st.st_mode) ? APLOG_INFO : APLOG_WARNING, 0, t->s,
                     FCGIX_LOGNO(00400) "FastCgiIpcDir %s: found %s at "
                                        "%s/%s, a socket path of the "
                                        "configuration now starting%s; %s",
                     names->dir, kind_of(st.st_mode), names->dir, e->d_name,
                     S_ISSOCK(st.st_mode) ? "" : " (not made by httpd)", done);
    }
    closedir(d);
}

/* In the child, as the User. bind() takes a path: one relative to the
 * directory we hold, so that no component is looked up again. */
static int control_task(void *baton, reply_t *reply)
{
    const control_task_t *t = baton;
    const char *name = t->names->control;
    int fd;

    if (fchdir(t->names->dir_fd) != 0) {
        fail(reply, "enter the IPC directory to bind");
        return -1;
    }
    clear_generation(t);
    fd = fcgix_pm_control_listen(name);
    if (fd < 0 && (errno == EEXIST || errno == EADDRINUSE)) {
        /* Planted again since (before or after its stale-socket check):
         * a race we need not win. */
        name = apr_pstrcat(t->p, random_hex(t->p), "-", name, NULL);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, t->s,
                     FCGIX_LOGNO(00402) "FastCgiIpcDir %s: %s was taken "
                                        "again by something that is not a "
                                        "socket; the control socket is %s "
                                        "instead",
                     t->names->dir, t->names->control, name);
        fd = fcgix_pm_control_listen(name);
    }
    if (fd < 0) {
        fail(reply, "bind and listen on");
        return -1;
    }
    apr_cpystrn(reply->name, name, sizeof(reply->name));
    return fd;
}

int fcgix_ipc_open_control(apr_pool_t *p, const fcgix_ipc_names_t *names,
                           server_rec *s, const char **name, const char **what)
{
    control_task_t t;
    reply_t reply;
    int fd;

    t.p = p;
    t.names = names;
    t.s = s;
    fd = as_user(control_task, &t, &reply);
    if (fd >= 0 && (reply.name[0] == '\0' || strchr(reply.name, '/'))) {
        close(fd);
        fd = -1;
        reply.err = EPROTO;
        apr_cpystrn(reply.what, "bind", sizeof(reply.what));
    }
    if (fd < 0) {
        *what = apr_pstrdup(p, reply.what[0] ? reply.what : "bind");
        errno = reply.err ? reply.err : EPROTO;
        return -1;
    }
    *name = apr_pstrdup(p, reply.name);
    return fd;
}
