/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_ipc.h
 * @brief The IPC directory and the PM's control socket, set up by httpd's
 *        root parent without a path operation in a directory that
 *        httpd's User can write (STYLE.md, "Trust boundary").
 *
 * Root reaches the IPC directory component by component through
 * descriptors and acts on it through its descriptor; what has to happen
 * inside it (clearing the next generation's socket paths, binding the
 * control socket) is done by a child that has become the User, which can
 * do nothing there that the User could not do anyway.
 */

#ifndef FCGIX_IPC_H
#define FCGIX_IPC_H

#include "httpd.h"
#include "apr_hash.h"

/** The IPC directory as fcgix_ipc_dir_open() found it. */
typedef struct {
    int fd;               /**< the directory, close-on-exec; -1 on failure */
    int parent_root_only; /**< only root can change its parent's entries */
    const char *at;       /**< on failure: the path where it went wrong */
    const char *why;      /**< on failure: what went wrong there */
} fcgix_ipc_dir_t;

/**
 * Open @p dir, creating what is missing (0755, the last component 0700).
 * Each component is opened relative to the one before without following
 * a symbolic link, except a link in a directory only root can write
 * (such as /var/run), which root itself put there. A missing directory
 * is made by root where only root writes, else by the User.
 * @param p    pool for the strings in @p out
 * @param dir  an absolute path
 * @param out  the result; out->fd must be closed by the caller
 * @return 0, or -1 with out->at and out->why set
 */
int fcgix_ipc_dir_open(apr_pool_t *p, const char *dir, fcgix_ipc_dir_t *out);

/** The names a configuration generation binds in the IPC directory. */
typedef struct {
    int dir_fd;          /**< the IPC directory (fcgix_ipc_dir_open) */
    const char *dir;     /**< its path, for the log */
    const char *control; /**< the control socket, "g<N>-pm.sock" */
    const char *dynamic; /**< prefix of dynamic sockets, "g<N>-dyn":
                              "<prefix><class>.<slot>" */
    apr_hash_t *statics; /**< keys: the static apps' socket names */
} fcgix_ipc_names_t;

/**
 * As the User (in a child): remove whatever is at the generation's socket
 * names in the IPC directory (stale sockets, and anything the User may
 * have planted there: each is logged), then bind and listen on the
 * control socket (0600, owned by the User). Should the control socket's
 * name be taken again meanwhile, another one that nobody can guess is
 * used, and logged.
 * @param p       pool for *name
 * @param names   the generation's names
 * @param s       for the log
 * @param name    set to the name the control socket is bound at
 * @param what    on failure: the step that failed
 * @return the listening descriptor (close-on-exec), or -1 with errno
 */
int fcgix_ipc_open_control(apr_pool_t *p, const fcgix_ipc_names_t *names,
                           server_rec *s, const char **name, const char **what);

#endif /* FCGIX_IPC_H */
