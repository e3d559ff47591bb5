/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_keep.h
 * @brief Kept connections to PM-run processes. After a request, its
 *        connection to the process stays open in the httpd child, so the
 *        child's next request to that process skips socket(), connect()
 *        and the app's accept() and close(): the slot's "keeper" on the
 *        board names the child, and requests prefer processes their own
 *        child keeps a connection to (fcgix_sb_acquire_near()).
 *
 * A process serves one connection at a time (libfcgi, php-cgi), so a
 * request of another child that takes the process must have the kept
 * connection closed first: it evicts the keeper (fcgix_sb_keeper_evict()),
 * which wakes this child's keeper thread, which closes the connection;
 * the process then accepts the new one. The same thread closes
 * connections idle for a second, and those to processes that are gone.
 * The board only says whom to wake: which connection a child holds is
 * in its own memory, and it only ever closes its own.
 */

#ifndef FCGIX_KEEP_H
#define FCGIX_KEEP_H

#include "apr_pools.h"
#include "httpd.h"

#include "fcgi_sb.h"

/** Idle connections older than this are closed. */
#define FCGIX_KEEP_IDLE_MS 1000

/**
 * Start keeping connections in this httpd child: a waker record on
 * @p sb and the keeper thread. Without them (no record free, no thread)
 * the child keeps none; logged once.
 */
void fcgix_keep_child_init(apr_pool_t *pchild, fcgix_sb_t *sb, server_rec *s);

/** This child's waker id, for fcgix_sb_acquire_near() and the keeper
 *  words; 0: it keeps no connection. */
uint32_t fcgix_keep_me(void);

/**
 * The connection this child keeps to slot @p slot's process, if it is
 * still the process of epoch @p epoch and the connection looks open
 * (nothing to read, no EOF); the caller owns it.
 * @return the descriptor, or -1 (none; a dead one was closed)
 */
int fcgix_keep_take(int slot, uint32_t epoch);

/**
 * Keep @p fd, an idle connection to slot @p slot's process (epoch
 * @p epoch): the slot's keeper becomes this child. Call it before the
 * slot is given back, so that a request of another child that takes the
 * slot then sees the keeper.
 */
void fcgix_keep_put(int slot, uint32_t epoch, int fd);

/**
 * Undo fcgix_keep_put() of @p fd: close it unless it was taken (or
 * closed) since, and stop being the slot's keeper.
 */
void fcgix_keep_drop(int slot, uint32_t epoch, int fd);

/** This child does not keep a connection to slot @p slot: clear the
 *  slot's keeper if it names this child. */
void fcgix_keep_forget(int slot);

#endif /* FCGIX_KEEP_H */
