/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pm.h
 * @brief The process manager core: binds a listening socket per process,
 *        starts and supervises the processes of static and dynamic
 *        applications, scales, recycles and stops them, answers start
 *        requests on a control socket. Its state for others is on the
 *        scoreboard (fcgi_sb.h).
 *
 * This layer knows nothing about httpd or APR: the module forks, prepares
 * the child (listeners closed, privileges dropped) and then calls
 * fcgix_pm_run(), which only returns when the PM is told to stop or its
 * parent is gone. Everything here is testable by forking it from a test.
 */

#ifndef FCGIX_PM_H
#define FCGIX_PM_H

#include <sys/types.h>

#include "fcgi_defaults.h"
#include "fcgi_sb.h"

/** Exit status for a PM that cannot start at all (for example it cannot
 *  bind a socket): the parent must not restart it. */
#define FCGIX_PM_EXIT_STARTUP 3

/** Log levels passed to the log callback. */
#define FCGIX_PM_LOG_ERR 0
#define FCGIX_PM_LOG_WARN 1
#define FCGIX_PM_LOG_INFO 2
#define FCGIX_PM_LOG_DEBUG 3

/** Back-off bounds for failed starts, in milliseconds. */
#define FCGIX_PM_MIN_BACKOFF_MS 100
#define FCGIX_PM_MAX_BACKOFF_MS 60000

/** Used when fcgix_pm_app_t.min_server_life_ms is <= 0: what
 *  -min-server-life 0 means (1 s). An unset -min-server-life is
 *  FCGIX_DEFAULT_MIN_SERVER_LIFE (30 s), applied by the configuration. */
#define FCGIX_PM_DEFAULT_MIN_LIFE_MS FCGIX_MIN_SERVER_LIFE_ZERO_MS
/** Used when fcgix_pm_app_t.listen_queue_depth is <= 0. */
#define FCGIX_PM_DEFAULT_LISTEN_QUEUE FCGIX_DEFAULT_LISTEN_QUEUE_DEPTH
/** After HOLD from httpd's parent (a graceful restart), how long the PM
 *  waits for KEEP before it drains as on SIGUSR1, in milliseconds: the
 *  new configuration is read in between. */
#define FCGIX_PM_HOLD_MS 30000
/** Grace period between SIGTERM and SIGKILL at shutdown; fits inside
 *  APR's 3 s kill-after-timeout window. */
#define FCGIX_PM_SHUTDOWN_GRACE_MS 2000

/** Room for dynamic slots on the board, at most: K classes of S slots,
 *  K x S <= this (docs/design/fcgid.md 3.7). */
#define FCGIX_PM_MAX_DYNAMIC_SLOTS 65536
/** Used when fcgix_pm_config_t.max_processes is <= 0. */
#define FCGIX_PM_DEFAULT_MAX_PROCESSES FCGIX_DEFAULT_MAX_PROCESSES
/** How long a control client may take to send its request line, in
 *  milliseconds; it is closed then. Clients are served side by side, so
 *  a slow one delays nobody. */
#define FCGIX_PM_CONTROL_READ_MS 1000
/** Control clients whose line is not complete yet, at most; a new one
 *  beyond that closes the oldest. */
#define FCGIX_PM_CONTROL_CLIENTS 64
/** What an app process writes to its fd 2 is logged by the PM, at most
 *  this many bytes per FCGIX_PM_STDERR_WINDOW_MS; the rest is dropped
 *  and counted. */
#define FCGIX_PM_STDERR_MAX (64 * 1024)
#define FCGIX_PM_STDERR_WINDOW_MS 60000
/** A longer stderr line is logged in pieces of this many bytes. */
#define FCGIX_PM_STDERR_LINE_MAX 1024

/** One application class: a FastCgiServer, or the template FastCgiConfig
 *  gives every dynamic app. */
typedef struct {
    const char *path;        /**< executable; NULL in the dynamic template */
    const char *socket_base; /**< slot i listens on "<base>.<i>"; NULL in
                                  the dynamic template */
    int processes;           /**< static: processes to keep running;
                                  dynamic: most per class (<= 0: 1) */
    int listen_queue_depth;  /**< listen() backlog (<= 0: default) */
    const char *const *argv; /**< NULL: { path, NULL } */
    const char *const *env;  /**< NAME=value list, NULL-terminated;
                                  NULL: empty. Nothing else is passed. */
    const char *dir;         /**< working directory; NULL: dirname(path) */
    int restart_delay_ms;    /**< delay before restarting a process that
                                  lived long enough */
    int min_server_life_ms;  /**< a process that lived less counts as a
                                  failed start (<= 0: default) */
    long max_requests;       /**< replace a process after this many
                                  requests (0: never) */
    int init_start_delay_ms; /**< between starts of a class's processes */
    int priority;            /**< nice value added at start (0: none) */
    int port;                /**< > 0: -port, every process accepts on one
                                  TCP socket on 127.0.0.1:port (socket_base
                                  unused); the PM then stops its processes
                                  only together, when none is busy */
    const char *wrapper;     /**< FastCgiWrapper (suexec): the process runs
                                  "wrapper user group basename(path)" in
                                  dir; NULL: path runs itself */
    const char *user;        /**< for the wrapper */
    const char *group;       /**< for the wrapper */
} fcgix_pm_app_t;

/** A class's options in the fcgid vocabulary (docs/design/fcgid.md
 *  3.4). Zero means "none" for every limit. */
typedef struct {
    const char *const *env;  /**< NAME=value, NULL-terminated; NULL: the
                                  dynamic template's */
    int max_class_processes; /**< most processes of the class; 0 or more
                                  than the board's slots per class: those */
    int min_class_processes; /**< idle and lifetime stops keep this many */
    int idle_ms;             /**< an idle process stops after this; 0: never */
    int lifetime_ms;         /**< an idle process older than this stops;
                                  0: never */
    long max_requests;       /**< replaced after this many requests; 0: never */
} fcgix_pm_class_opts_t;

/** One FcgidCmdOptions entry of a server: the options of the class whose
 *  path (the command's argv[0], or the script) is @c path. */
typedef struct {
    const char *path;
    fcgix_pm_class_opts_t opts;
} fcgix_pm_cmdopts_t;

/** One virtual host (server record), by its index; a STARTC names it as
 *  index + 1. */
typedef struct {
    const char *name;           /**< "host:port", for logs and answers */
    int max_processes;          /**< its dynamic processes at most (both
                                     vocabularies); 0: no cap */
    fcgix_pm_class_opts_t opts; /**< its Fcgid* values: fcgid classes
                                     without a cmdopts entry */
    const fcgix_pm_cmdopts_t *cmdopts;
    int ncmdopts;
} fcgix_pm_tenant_t;

/** One command line of the registry, by its index; a STARTC names it as
 *  index + 1 and must give its argv[0] as the path. */
typedef struct {
    const char *const *argv; /**< argv[0]: the program, absolute;
                                  NULL-terminated */
} fcgix_pm_command_t;

/** The log number of a PM message as an int, written like the handler's
 *  FCGIX_LOGNO(nnnnn) (five digits) so that one grep finds every use of a
 *  number: FCGIX_PM_LOGNO(00512) is 512 (pasted to 100512, never read as
 *  octal). The PM's messages have 00500-00599; an app's stderr line has
 *  00070 (docs/architecture.md lists them). */
#define FCGIX_PM_LOGNO(n) (1##n - 100000)

/**
 * Log callback. Every line names the application and the pid concerned.
 * @param baton  the caller's pointer given to fcgix_pm_run()
 * @param level  one of FCGIX_PM_LOG_*
 * @param logno  the message's log number (see FCGIX_PM_LOGNO()), unique
 *               to its call site; httpd's error log shows it as
 *               "FCGIX<5 digits>: " before the message
 * @param msg    the message, without a trailing newline. It may hold any
 *               byte but NUL: an app's stderr line is passed as the app
 *               wrote it, so the callback must make control characters
 *               harmless, as httpd's error log does with every message
 *               (ap_escape_errorlog_item()); others can use
 *               fcgix_pm_escape().
 */
typedef void fcgix_pm_log_fn(void *baton, int level, int logno,
                             const char *msg);

/** Everything the PM runs and how. */
typedef struct fcgix_pm_config_s {
    const fcgix_pm_app_t *apps; /**< static classes: board classes 0.. */
    int napps;
    fcgix_sb_t *sb;           /**< the board, shared with the handlers; its
                                   first napps classes and the slots they
                                   need are filled here */
    const char *control_path; /**< Unix socket for start requests; NULL:
                                   no dynamic apps */
    int control_fd;           /**< > 2: control_path already listening
                                   there (from fcgix_pm_control_listen() in
                                   the parent, so that it exists before
                                   the PM runs and across PM restarts);
                                   else the PM binds it */
    const char *dynamic_base; /**< socket prefix of dynamic classes */
    fcgix_pm_app_t dynamic;   /**< template of every dynamic class */
    int max_processes;        /**< dynamic processes in all (<= 0: 50) */
    int min_processes;        /**< dynamic ones never stopped for idling */
    int kill_interval_ms;     /**< a dynamic process idle this long stops */
    int start_wait_ms;        /**< how long a START waits for a process
                                   (-startTimeout); 0: 5 s */
    int drain_ms;             /**< graceful stop: wait this long for
                                   requests in flight */
    /* Tables for STARTC (docs/design/fcgid.md 3.4), built by httpd's
     * parent in its private memory; every index a STARTC names is
     * checked against these counts. All may be empty: START and STARTAS
     * work as before. */
    const fcgix_pm_tenant_t *tenants; /**< by server index */
    int ntenants;                     /**< <= the board's tenant records
                                           for them to be published */
    const fcgix_pm_command_t *commands;
    int ncommands;
    int max_user_processes; /**< dynamic processes per suexec uid; 0: none */
    int signal_fd;          /**< > 2: the root signal helper's socket
                                 (fcgix_pm_signal_helper_start()), for
                                 processes run as another user */
    int fastcgi_class_max;  /**< FastCgiConfig -maxClassProcesses: most
                                 processes of a FastCgi dynamic class (the
                                 room per class, dynamic.processes, may be
                                 larger for fcgid classes); 0: the room */
    const char *suexec;     /**< httpd's suexec when usable, else NULL: a
                                 STARTC with an identity is then refused */
    fcgix_pm_log_fn *log;   /**< must not be NULL */
    void *baton;            /**< passed to log and reopen_log */
    int parent_fd; /**< > 2: httpd's parent's socket pair (SOCK_SEQPACKET),
                        on which a graceful restart says HOLD, then KEEP
                        (fcgi_pm_parent.c); else none */
    int hold_ms;   /**< HOLD lasts this long (<= 0: FCGIX_PM_HOLD_MS) */
    /** KEEP: the new configuration's error log (@p fd, -1: none; the
     *  callee dups it, the PM closes it) and log level (-1: unchanged).
     *  NULL: ignored. */
    void (*reopen_log)(void *baton, int fd, int level);
} fcgix_pm_config_t;

/**
 * Run the process manager until a signal or until the caller's parent
 * (the process that was the parent when this was called) goes away.
 * SIGTERM, SIGINT, SIGHUP and the parent's death stop every process
 * (SIGTERM, then SIGKILL after FCGIX_PM_SHUTDOWN_GRACE_MS); SIGUSR1 is a
 * graceful stop: each process is stopped once no request uses it, for at
 * most drain_ms. The sockets are removed before it returns.
 *
 * Control protocol (one line per connection on control_path; the lines
 * are defined, parsed and encoded by fcgi_ctl.h): "START <path>" gets
 * "OK" once a process of that class takes requests, "BUSY <seconds>
 * <why>" or "FAIL <why>"; "STARTAS <user> <group> <path>" the same for a
 * dynamic class run by the wrapper as that user (the first start of a
 * class sets its user); "TICK" (no answer) makes the PM look at the
 * board now (a busy class, a process to recycle, an updated file). A
 * line the parser refuses gets "FAIL malformed request: <defect>".
 * Clients are served from the main loop, each with its own buffer and
 * deadline (FCGIX_PM_CONTROL_READ_MS; at most FCGIX_PM_CONTROL_CLIENTS
 * wait for their line, a new one closes the oldest), so that no client
 * delays another or the PM's work. Only root and the PM's own user may
 * send requests (SO_PEERCRED); others are closed unanswered. Refusals
 * are logged at most once per 10 s and reason.
 *
 * @return 0 after an orderly shutdown, FCGIX_PM_EXIT_STARTUP when nothing
 *         could be started (bad arguments, a socket that cannot be bound).
 * @note Installs handlers for SIGTERM, SIGHUP, SIGINT, SIGUSR1 and
 *       SIGCHLD, and restores the previous ones before returning. Must be
 *       called from a single-threaded process (normally a freshly forked
 *       child): it reaps with waitpid(-1).
 * @note Processes get their socket as fd 0 (FCGI_LISTENSOCK_FILENO),
 *       keep fd 1, get a pipe to the PM as fd 2 and no other descriptor;
 *       they get SIGTERM when the PM dies (PR_SET_PDEATHSIG). Each line
 *       written to the pipe is logged (level WARN) as "fastcgi pm: app
 *       <path> (pid <pid>) stderr: <line>" (a NUL in it as '?', a final
 *       CR dropped), at most FCGIX_PM_STDERR_MAX bytes per
 *       FCGIX_PM_STDERR_WINDOW_MS and process; how much was dropped
 *       beyond that is logged.
 */
int fcgix_pm_run(const fcgix_pm_config_t *cfg);

/**
 * A listening control socket at @p path (mode 0600; a stale socket there
 * is replaced, any other file is an error).
 * @note It works by path: call it as the user who owns the directory,
 *       never as root in a directory others can write (httpd's parent
 *       calls it in a child that has become User, see fcgi_ipc.h).
 * @return the descriptor (close-on-exec), or -1 with errno
 */
int fcgix_pm_control_listen(const char *path);

/**
 * The size of board this configuration needs: a class and -processes
 * slots per static app, and room for dynamic classes of
 * dynamic.processes slots each (at most max_processes classes, and at
 * most FCGIX_PM_MAX_DYNAMIC_SLOTS slots for them in all).
 * @param cfg       the configuration (sb unused)
 * @param nclasses  set to the classes the board needs
 * @return the slots the board needs
 */
int fcgix_pm_board_slots(const fcgix_pm_config_t *cfg, int *nclasses);

/**
 * The board's room for dynamic classes this configuration needs: one
 * class per process of max_processes, of dynamic.processes slots each
 * (both at most as fcgix_pm_board_slots() says).
 * @param cfg        the configuration
 * @param per_class  set to the slots per class (0: no dynamic apps)
 * @return the classes (0: no dynamic apps)
 */
int fcgix_pm_dynamic_room(const fcgix_pm_config_t *cfg, int *per_class);

/**
 * The virtual host records the board needs: twice the configuration's,
 * and a few more, so that a graceful restart that adds hosts can be
 * taken by the running PM (new hosts get numbers no host had before).
 * @param cfg  the configuration
 * @return the records
 */
int fcgix_pm_board_tenants(const fcgix_pm_config_t *cfg);

/**
 * The delay before the next start of a process slot.
 * @param restart_delay_ms  the application's restart delay
 * @param failures          consecutive failed starts (0: the last process
 *                          lived long enough)
 * @return @p restart_delay_ms (at least 0) when @p failures is 0; else
 *         max(restart_delay_ms, FCGIX_PM_MIN_BACKOFF_MS) doubled
 *         @p failures times, capped at FCGIX_PM_MAX_BACKOFF_MS.
 */
long fcgix_pm_backoff_ms(int restart_delay_ms, int failures);

/**
 * Escape a log message as httpd's error log escapes every message
 * (ap_escape_errorlog_item()), for a log callback that writes elsewhere:
 * '\\' becomes "\\\\", \b \n \r \t \v their letter after a backslash,
 * other bytes below 0x20 or from 0x7f up \xhh; everything else is
 * copied.
 * @param out  receives the escaped text and a NUL
 * @param cap  size of @p out (at least 1); the text is cut before an
 *             escape that does not fit
 * @param in   the line (any bytes, NULs included)
 * @param len  its length
 * @return the length written, without the NUL
 */
size_t fcgix_pm_escape(char *out, size_t cap, const char *in, size_t len);

/**
 * Start the signal helper (fcgi_pm_signal.c): a child that keeps root
 * and signals, on the PM's request, the PM's own children that run as
 * other users (suexec). Call in the PM's process before it drops root.
 * @return the PM's end of the helper's socket, or -1 (not root, or it
 *         could not start: such processes then cannot be stopped)
 */
int fcgix_pm_signal_helper_start(void);

/**
 * kill(@p pid, @p sig), through the signal helper when the process is
 * not the PM's user's to signal (EPERM).
 * @return 0 when sent (or handed to the helper), else -1 with errno
 */
int fcgix_pm_signal(const fcgix_pm_config_t *cfg, pid_t pid, int sig);

/**
 * Have the signal helper stop process @p pid (run as another user) if the
 * PM dies before it; no effect without the helper.
 */
void fcgix_pm_signal_watch(const fcgix_pm_config_t *cfg, pid_t pid);

#endif /* FCGIX_PM_H */
