/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_launch_keep.h
 * @brief The running PM as httpd's parent knows it across configuration
 *        generations, and the graceful restart that keeps it: HOLD when
 *        the old configuration goes, KEEP when the new one defines the
 *        same PM (docs/design/issue16.md, item 1).
 *
 * httpd unloads and reloads the module at every restart, so this lives
 * in the process pool, not in the module's static variables.
 */

#ifndef FCGIX_LAUNCH_KEEP_H
#define FCGIX_LAUNCH_KEEP_H

#include <sys/types.h>

#include "apr_pools.h"
#include "apr_shm.h"
#include "httpd.h"

#include "fcgi_pm.h"
#include "fcgi_sb.h"
#include "fcgi_ids.h"

/** The running PM. Root signals and waits for @c pid and writes to
 *  @c chan_fd only: nothing read from shared memory steers it. */
typedef struct {
    pid_t pid;          /**< 0: none */
    int gen;            /**< the generation that started it: the
                             generation in its socket names */
    int chan_fd;        /**< our end of its socket pair; -1: none */
    int startup_rd;     /**< its startup pipe's read end; -1: none */
    int control_fd;     /**< its control socket, held for a PM restarted
                             after a crash; -1: none */
    char *control_path; /**< malloc'd */
    apr_shm_t *shm;     /**< the board's memory (process pool) */
    fcgix_sb_t board;
    unsigned char *key; /**< its definitions, encoded (malloc'd) */
    size_t key_len;
    unsigned char *rest_key; /**< the same without the static apps, the
                                  virtual hosts, the commands and the
                                  settings of dynamic apps */
    size_t rest_key_len;
    int dyn_classes;   /**< its board's room for dynamic classes */
    int dyn_per_class; /**< and their slots each */
    int *classes;      /**< the board class of each static app, in path order
                            (malloc'd): a graceful restart that changed pools
                            gives new ones other indexes */
    int nclasses;
    fcgix_ids_t tenant_ids;  /**< the virtual host numbers it knows:
                                         its tenant table's (its STARTC and
                                         its dynamic classes' keys) */
    fcgix_ids_t command_ids; /**< the same for its command table */
    int held;                /**< told HOLD: a graceful restart is under way */
    int *any_build_pid;      /**< the running PM's pid, under a key and in a
                                  layout every build shares: {1, pid} */
} fcgix_kept_pm_t;

/**
 * The record, made in @p s's process pool the first time, under a key
 * that names this build (fcgi_build.h). When the module's file was
 * replaced since the last generation, the PM the last build started
 * cannot be kept (its record is not read): it is told to drain
 * (SIGUSR1), and a new one starts.
 */
fcgix_kept_pm_t *fcgix_kept_pm(server_rec *s);

/** The running PM is @p pid now (0: none). */
void fcgix_kept_pm_set_pid(fcgix_kept_pm_t *k, pid_t pid);

/**
 * Whether @p cfg defines the same PM as the one running (same
 * definitions, same board size needed): then it can be kept.
 * @param nholders  the holder records the new generation wants
 */
int fcgix_kept_pm_same(const fcgix_kept_pm_t *k, const fcgix_pm_config_t *cfg,
                       int nholders);

/**
 * Whether @p cfg defines the same PM but for its static apps
 * (FastCgiServer pools), virtual hosts, commands and the settings of
 * dynamic apps (FastCgiConfig's options, -maxProcesses, -minProcesses,
 * -killInterval, -startTimeout, -maxClassProcesses, FcgidMaxProcesses,
 * FcgidMaxProcessesPerUser, Timeout): then the running PM can take them
 * (fcgix_kept_pm_reconcile()), if its board has the room for the new
 * limits (fcgix_kept_pm_room_fits()).
 */
int fcgix_kept_pm_same_rest(const fcgix_kept_pm_t *k,
                            const fcgix_pm_config_t *cfg, int nholders);

/**
 * Whether the running PM's board has the room @p cfg's dynamic apps need
 * (a class per -maxProcesses, of the widest class cap's slots each): it
 * can serve lower limits, never higher ones. If not, @p why (@p size
 * bytes) says what is needed and what there is.
 */
int fcgix_kept_pm_room_fits(const fcgix_kept_pm_t *k,
                            const fcgix_pm_config_t *cfg, char *why,
                            size_t size);

/**
 * Hand the running PM, held, the static apps of @p next (named with the
 * new generation) with the new error log and level: unchanged pools keep
 * their processes, the others start or retire; then wait, at most a
 * second, for its answer.
 * @param map  out: the board class of each of @p next's apps
 * @return NULL when it took them; else why not (no room on its board,
 *         no answer...): the caller drains it and starts a new one
 */
const char *fcgix_kept_pm_reconcile(fcgix_kept_pm_t *k, server_rec *s,
                                    const fcgix_pm_config_t *next, int *map);

/** The board class of each of the running PM's @p n static apps. */
void fcgix_kept_pm_set_classes(fcgix_kept_pm_t *k, const int *classes, int n);

/** A new PM starts for @p cfg: remember its board's room for dynamic
 *  classes, which a graceful restart that keeps it cannot change. */
void fcgix_kept_pm_set_room(fcgix_kept_pm_t *k, const fcgix_pm_config_t *cfg);

/** Remember @p cfg's definitions as the running PM's. */
void fcgix_kept_pm_set_key(fcgix_kept_pm_t *k, const fcgix_pm_config_t *cfg,
                           int nholders);

/** Whether @c pid is still our child and has not exited. */
int fcgix_kept_pm_alive(const fcgix_kept_pm_t *k);

/**
 * Tell the PM that the new configuration keeps it: the main server's
 * error log (passed to it) and this module's log level; then wait, at
 * most a second, for its answer.
 * @return NULL when it answered KEPT; else why it is not kept (it could
 *         not be told, said DRAINING because its hold ran out, or did
 *         not answer): the caller drains it and starts a new one
 */
const char *fcgix_kept_pm_keep(fcgix_kept_pm_t *k, server_rec *s);

/** A graceful restart begins: tell the PM to wait for the new
 *  configuration. @return 0, or -1 when it could not be told. */
int fcgix_kept_pm_hold(fcgix_kept_pm_t *k);

/**
 * Let the PM go: its socket pair, control socket and startup pipe are
 * closed here and the parent's mapping of its board released (its
 * processes and old httpd children keep theirs). The caller has
 * signalled it first.
 */
void fcgix_kept_pm_forget(fcgix_kept_pm_t *k);

/**
 * A graceful restart that kept the PM: wait, at most @p ms, for the old
 * generation's idle children to exit. The MPM looks for dead children
 * once a second and starts the new generation's in their place: a child
 * that exits just after that look leaves the server without a child for
 * up to a second or two (before PMs were kept, the old PM's exit woke it
 * up earlier, by chance). The pids come from httpd's scoreboard, which
 * the User can write: only our own unreaped children count, and the wait
 * is bounded.
 */
void fcgix_kept_pm_wait_old_children(int ms);

/** In the PM and in httpd's children: close what only httpd's parent
 *  holds (the socket pair's parent end, the startup pipe). */
void fcgix_kept_pm_close_parent_ends(fcgix_kept_pm_t *k);

/** In the PM (@p baton is the main server): its error log now goes to
 *  @p fd and its level is @p level (-1: unchanged). */
void fcgix_kept_pm_reopen_log(void *baton, int fd, int level);

#endif /* FCGIX_LAUNCH_KEEP_H */
