/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pm_int.h
 * @brief The process manager's own types and the functions its files
 *        share; nothing outside fcgi_pm*.c includes it.
 *
 * The PM is one process and one thread; its files split it by concern:
 *   - fcgi_pm.c        fcgix_pm_run(): setup, the main loop and its poll
 *                      set, signals, reaping and restarts, graceful and
 *                      hard stop, logging;
 *   - fcgi_pm_spawn.c  sockets (bind, unbind), starting a process, slot
 *                      states, the apps' stderr pipes;
 *   - fcgi_pm_class.c  classes (static set-up, dynamic allocation,
 *                      freeing, eviction) and the maintenance pass
 *                      (scaling, recycling, updates, due starts);
 *   - fcgi_pm_ctl.c    the control socket: clients, peer check, START and
 *                      its waiters.
 * What others may read lives on the scoreboard (fcgi_sb.h); what only
 * the PM needs (listening sockets, back-off counters, what to do after a
 * stop) lives in the private arrays of pm_t, indexed like the board. A
 * slot changes state only through fcgix_pm_slot_set_state(). Only the
 * module records leave the module (exports.map): these functions are
 * not exported.
 */

#ifndef FCGIX_PM_INT_H
#define FCGIX_PM_INT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fcgi_ctl.h"
#include "fcgi_pm.h"

/** The most bytes of definitions a graceful restart may hand the PM. */
#define FCGIX_PM_DEFINITIONS_MAX (64L * 1024 * 1024)

/** START requests waiting for a process, at most. */
#define FCGIX_PM_MAX_WAITERS 256

/** Returned by fcgix_pm_class_dynamic() when no class is free now. */
#define FCGIX_PM_NO_ROOM -1
/** Returned by fcgix_pm_class_dynamic() when the app cannot have a
 *  class. */
#define FCGIX_PM_NO_CLASS -2
/** Returned by fcgix_pm_tables_merge() when out of memory. */
#define FCGIX_PM_NO_MEMORY -3

/** Out of descriptors: leave the queued control connections there this
 *  long (ms). */
#define FCGIX_PM_ACCEPT_PAUSE_MS 100

/* What happens to a slot once the process we stopped has exited. */
enum { AFTER_EMPTY = 0, AFTER_RESTART };

/* Why a running process is to be replaced once idle (pslot_t). */
enum { UPDATE_NONE = 0, UPDATE_FILE, UPDATE_DEFINITION };

typedef struct {
    pid_t pid;
    int state;            /* FCGIX_SB_* */
    int fd;               /* listening socket, -1 when not bound */
    long long started;    /* ms, monotonic */
    long long next_start; /* ms, monotonic; BACKOFF only */
    int failures;         /* consecutive failed starts */
    int exec_failed;      /* the child reported a failure before exec */
    int after_stop;       /* AFTER_*, STOPPING only */
    int update_pending;   /* UPDATE_*: replace once idle, as its file or
                             its class's definition changed */
    int ever_started;
    int dynamic;    /* belongs to a dynamic class */
    int cls;        /* its class (set when the class takes the slot) */
    int port_waits; /* -port still in use: retries so far */
    /* A process that died with requests on it, before -min-server-life
     * and before any sign that it answered: whether it started well
     * waits for its answer to show (fcgix_pm_slot_verdict()) until this
     * (ms, monotonic); 0: nothing waits. */
    long long verdict_until;
    long long lived_ms;                  /* how long that process lived */
    pid_t dead_pid;                      /* and its pid, for the log */
    char socket_path[FCGIX_SB_SOCK_MAX]; /* what we bound; the board's
                                            copy is for others to read */
} pslot_t;

/* Memory holding definitions a graceful restart handed the PM (a
 * decoded RECONCILE, or the PM's copy of the virtual hosts it took). */
typedef struct {
    void *mem;
    size_t size;
} pm_arena_t;

typedef struct {
    fcgix_pm_app_t cfg;
    int dynamic;
    char *path; /* owned copies */
    char *base;
    char *dir;
    char *user; /* owned copies, wrapper only */
    char *group;
    const char *exec_path; /* argv[0], or the wrapper */
    int shared_fd;         /* -port: the TCP socket all processes share */
    char **argv;           /* owned; NULL: cfg.argv (static apps) */
    long min_life;
    fcgix_sb_key_t key;       /* with path, what the class is (the board's
                                 copy is for handlers to find it) */
    int exclusive;            /* fcgid: one request per process */
    int max_class;            /* its processes at most (<= nslots) */
    int min_processes;        /* fcgid: idle and lifetime stops keep these */
    int idle_ms, lifetime_ms; /* fcgid: 0: never */
    int live;                 /* its slots for which fcgix_pm_slot_live() */
    int first;  /* its slots: first .. first + nslots - 1; the PM's own */
    int nslots; /* copy, never read back from the board */
    long long retiring; /* static: wall ms since it retires (a graceful
                           restart changed or removed its pool): its
                           processes stop once idle, then the class is
                           free; 0: not retiring */
} pclass_t;

/* What a START, STARTAS or STARTC asks for, checked against the PM's
 * tables (fcgix_pm_request_check()): the class's key and path and how it
 * runs. */
typedef struct {
    fcgix_sb_key_t key;
    char path[FCGIX_CTL_PATH_MAX + 1];
    const char *const *argv; /* cmd > 0: the command's; NULL: { path } */
    const char *wrapper;     /* NULL: run argv itself */
    char user[FCGIX_CTL_NAME_MAX + 2]; /* for the wrapper ("~" kept) */
    char group[FCGIX_CTL_NAME_MAX + 1];
} class_req_t;

typedef struct {
    int fd;
    int cls; /* -1: no class yet (none was free when the START came) */
    long long deadline;
    class_req_t *req; /* cls -1 only: owned, to make its class with */
} waiter_t;

/* Tenant cap refusals, logged at most once per 10 s per tenant. */
typedef struct {
    long long last_ms;
    unsigned long unlogged;
} caplog_t;

/* A control connection whose request line is not complete yet. */
typedef struct {
    int fd; /* -1: free */
    long pid, uid;
    unsigned long long seq; /* order of arrival */
    long long deadline;     /* ms, monotonic: closed then */
    size_t len;
    char buf[FCGIX_CTL_REQUEST_MAX];
} client_t;

/* Why control clients were turned away; see note_refusal(). */
enum {
    REFUSE_STRANGER,
    REFUSE_FULL,
    REFUSE_LATE,
    REFUSE_BAD,
    REFUSE_STARTC,
    NREFUSALS
};

typedef struct {
    long long last_ms;      /* when one was last logged; 0: never */
    unsigned long unlogged; /* refused since, not logged */
} refusal_t;

/* The raw stderr (fd 2) of the process of a slot: see "The apps' raw
 * stderr". */
typedef struct {
    int fd; /* the pipe's read end; -1: none */
    int cls;
    pid_t pid;
    char *line; /* FCGIX_PM_STDERR_LINE_MAX bytes, from the first pipe on */
    size_t len;
    long long window_start;     /* ms, monotonic */
    size_t logged;              /* bytes in this window */
    unsigned long long dropped; /* bytes over the cap, not yet reported */
} applog_t;

typedef struct {
    const fcgix_pm_config_t *cfg; /* &live */
    fcgix_pm_config_t live;       /* the configuration it started with, with the
                                     settings of the last graceful restart that
                                     kept it (fcgix_pm_settings_take()) */
    fcgix_sb_t *sb;
    pclass_t *classes;   /* like the board's */
    int nclasses;        /* in use */
    pslot_t *slots;      /* like the board's */
    int nslots;          /* in use */
    int static_cap;      /* classes 0 .. static_cap - 1 are static (the
                            configuration's first, then room for pools a
                            graceful restart adds or changes); dynamic
                            classes follow */
    int static_slot_cap; /* slots 0 .. static_slot_cap - 1 are static */
    int dyn_slot_base;   /* first slot of the dynamic classes */
    int dyn_per_class;
    int dyn_classes;        /* room for dynamic classes (the PM's own count) */
    long long holders_seen; /* ms, monotonic: last look at the holders */
    int dyn_live; /* dynamic slots that count against -maxProcesses and
                     -minProcesses: see counts_as_live() */
    int ctl_fd;
    waiter_t waiters[FCGIX_PM_MAX_WAITERS];
    int nwaiters;
    pid_t parent;
    uid_t uid;                     /* ours: the User (or root in tests) */
    client_t *clients;             /* FCGIX_PM_CONTROL_CLIENTS of them */
    unsigned long long client_seq; /* clients admitted so far */
    refusal_t refusals[NREFUSALS];
    long long accept_paused; /* ms: out of descriptors until then */
    applog_t *applogs;       /* like the board's slots */
    struct pollfd *pfds;     /* the poll set, rebuilt each pass */
    int *pfd_owner;          /* what each entry serves: a client index,
                                or FCGIX_PM_CONTROL_CLIENTS + a slot */
    int npfds;
    /* The virtual hosts by number: cfg's, then what graceful restarts
     * added (fcgix_pm_tables_adopt(), in an arena); a nameless record
     * is no host. */
    const fcgix_pm_tenant_t *tenants;
    int ntenants;
    /* The commands by number, likewise; one without argv is no command. */
    const fcgix_pm_command_t *commands;
    int ncommands;
    int tenant_cap;       /* the board's records: numbers < tenant_cap */
    int *tenant_live;     /* tenant_cap: their live dynamic processes,
                             kept by fcgix_pm_slot_set_state() */
    caplog_t *tenant_log; /* tenant_cap */
    caplog_t user_log;
    long long hold_until; /* ms, monotonic: HOLD from the parent runs out
                             then; 0: not held */
    int parent_closed;    /* the parent's socket pair was closed */
    pm_arena_t *arenas;   /* definitions taken from graceful restarts:
                             classes and the host table point into them;
                             each freed once nothing does
                             (fcgix_pm_arenas_sweep()) */
    int narenas;
    int arenas_pinned; /* a reconcile is under way: sweep nothing */
    int draining;      /* a graceful stop has begun */
} pm_t;

/** The one way to walk the slots of class @p c:
 *  for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) { ... }.
 *  The bounds come from the PM's own records: a process of the User may
 *  write anything on the board, and the PM indexes its private arrays
 *  with them. */
#define FCGIX_PM_CLASS_SLOTS(pm, c, i)                                         \
    (i) = (pm)->classes[c].first;                                              \
    (i) < (pm)->classes[c].first + (pm)->classes[c].nslots;                    \
    (i)++

/** Whether class @p c holds an app: a dynamic class is freed once its
 *  last process is gone, and its index given to the next app. */
static inline int fcgix_pm_class_used(const pm_t *pm, int c)
{
    return pm->classes[c].path != NULL;
}

/** Whether the processes of @p cls share one TCP socket (-port). */
static inline int fcgix_pm_class_shared(const pclass_t *cls)
{
    return cls->cfg.port > 0;
}

/** Whether a dynamic slot counts against the limits: while its process
 *  runs, is due to restart, or is being replaced; not once it is being
 *  stopped for good (so one pass cannot stop more idle processes than
 *  -minProcesses allows). */
static inline int fcgix_pm_slot_live(const pslot_t *ps)
{
    return ps->dynamic
           && (ps->state == FCGIX_SB_RUNNING || ps->state == FCGIX_SB_BACKOFF
               || (ps->state == FCGIX_SB_STOPPING
                   && ps->after_stop == AFTER_RESTART));
}

/** Requests the process in slot @p i has served (given back). */
static inline uint64_t fcgix_pm_slot_served(const pm_t *pm, int i)
{
    return __atomic_load_n(&fcgix_sb_slot(pm->sb, i)->requests,
                           __ATOMIC_ACQUIRE);
}

/** Whether the process in slot @p i has begun to answer a request
 *  (fcgix_sb_note_answer()): it may not be counted as served yet. */
static inline int fcgix_pm_slot_answered(const pm_t *pm, int i)
{
    return __atomic_load_n(&fcgix_sb_slot(pm->sb, i)->answered,
                           __ATOMIC_ACQUIRE)
           != 0;
}

/* ---------------------------------------------------------- fcgi_pm.c */

/** Monotonic clock, ms. */
long long fcgix_pm_now_ms(void);

/**
 * Slot @p i of class @p c waits for the verdict on its dead process
 * (pslot_t.verdict_until): decide it when the process turns out to have
 * answered, or when the wait is over, and schedule the restart.
 * @return 1 when decided, 0 while it still waits
 */
int fcgix_pm_slot_verdict(pm_t *pm, int c, int i);

/** Wall clock, ms (what the board shows). */
long long fcgix_pm_wall_ms(void);

/**
 * Log through the configuration's callback, naming the app of @p cls
 * ("fastcgi pm: [dynamic ]app <path> (pid <pid>): ") or, when @p cls is
 * NULL, the PM ("fastcgi pm (pid <pid>): ").
 * @param logno  FCGIX_PM_LOGNO(nnnnn), unique to the call site
 */
void fcgix_pm_log(const pm_t *pm, int level, int logno, const pclass_t *cls,
                  pid_t pid, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/** Stop (SIGTERM) the process of slot @p i of class @p c, which no
 *  request uses any more; @p after (AFTER_*) says what follows its exit,
 *  @p why is logged. */
void fcgix_pm_slot_stop(pm_t *pm, int c, int i, int after, const char *why);

/** Stop the processes of class @p c that have had no request for a
 *  second (since @p since, wall ms, at the earliest; a -port class's all
 *  together), and drop its due restarts: a drain, for one class. */
void fcgix_pm_class_stop_quiet(pm_t *pm, int c, long long since);

/* ---------------------------------------------------- fcgi_pm_spawn.c */

/** A listening Unix socket at @p path, mode 0600, a stale socket there
 *  replaced; -1 with errno and *@p what naming the step that failed. */
int fcgix_pm_listen_unix(const char *path, int depth, const char **what);

/** Bind the socket of slot @p i of class @p c unless it is bound already
 *  (it stays bound across restarts of its process, so that queued
 *  connections survive). @return 0, or -1 (logged) with errno. */
int fcgix_pm_slot_bind(pm_t *pm, int c, int i);

/** Close the socket of slot @p i and remove its file (a -port socket
 *  once no process of its class uses it). */
void fcgix_pm_slot_unbind(pm_t *pm, int i);

/** The one place where a slot's state changes; the board mirrors it.
 *  Callers set after_stop before moving a slot to STOPPING. */
void fcgix_pm_slot_set_state(pm_t *pm, int i, int state, pid_t pid);

/** Slot @p i starts again (BACKOFF) in @p delay ms. */
void fcgix_pm_slot_schedule(pm_t *pm, int i, long delay);

/** Start the process of slot @p i of class @p c; on success the slot
 *  takes requests, on failure it backs off. */
void fcgix_pm_spawn(pm_t *pm, int c, int i);

/** Read what the process of slot @p i wrote to its stderr, a bounded
 *  amount per call, and log it. */
void fcgix_pm_stderr_read(pm_t *pm, int i);

/** The process is gone (or replaced): log what it wrote last, close the
 *  pipe. */
void fcgix_pm_stderr_close(pm_t *pm, applog_t *a);

/** Read every stderr pipe without poll() (during the shutdown, so that
 *  no process blocks on a full pipe while it is being stopped). */
void fcgix_pm_stderr_read_all(pm_t *pm);

/** Say now how much stderr was dropped in windows that have ended. */
void fcgix_pm_stderr_report(pm_t *pm);

/* --------------------------------------------------- fcgi_pm_parent.c */

/* Read one message from httpd's parent (HOLD, KEEP) and act on it. */
void fcgix_pm_parent_serve(pm_t *pm);

/* Whether a HOLD has run out without a KEEP (once: it is then over). */
int fcgix_pm_parent_hold_over(pm_t *pm);

/* ---------------------------------------------------- fcgi_pm_class.c */

/** The class whose slots hold slot @p i, or -1. */
int fcgix_pm_class_of_slot(const pm_t *pm, int i);

/** Set up the static classes and bind their sockets; every slot starts
 *  now, -init-start-delay apart. @return 0, or -1 (logged). */
int fcgix_pm_classes_init(pm_t *pm);

/** Set up static class @p c for @p app on slots @p first ..
 *  @p first + @p n - 1 (socket names from @p base) and bind its sockets;
 *  its processes start -init-start-delay apart. @return 0, or -1
 *  (logged; the class is left unused). */
int fcgix_pm_class_start_static(pm_t *pm, int c, const fcgix_pm_app_t *app,
                                const char *base, int first, int n);

/** Retirement of static classes, once per maintenance pass: each
 *  retiring class drains (fcgix_pm_class_stop_quiet()), its processes
 *  still busy after the drain time are stopped, and once none is left
 *  the class and its slots are free. */
void fcgix_pm_classes_retire(pm_t *pm);

/** Dynamic class @p c takes FastCgiConfig's template as it is now: the
 *  processes it starts from now on run with it, and its running ones are
 *  replaced as they become idle (UPDATE_DEFINITION). Its key, path,
 *  command, sockets and slots stay. */
void fcgix_pm_class_redefine(pm_t *pm, int c);

/* ------------------------------------------------ fcgi_pm_reconcile.c */

/**
 * A graceful restart whose configuration changes the static apps only:
 * the running PM takes @p next's (named with the new generation). Each
 * app the same as a running class but for its socket names keeps that
 * class (and its processes); every other one gets a free class and free
 * slots of the static room and starts; the classes no app kept retire.
 * Nothing changes when there is not room for all the new ones.
 * @param map  out: the class of each of @p next's apps, in their order
 * @return 0, FCGIX_PM_NO_ROOM (nothing changed), or FCGIX_PM_NO_CLASS (a
 *         new class could not be set up: those started retire); logged
 */
int fcgix_pm_reconcile(pm_t *pm, const fcgix_pm_config_t *next, int *map);

/**
 * A graceful restart that kept the PM: take @p next's settings (the
 * limits of dynamic apps, -killInterval, -startTimeout, Timeout's drain
 * time, FcgidMaxProcessesPerUser, and FastCgiConfig's template but for
 * the room per class, which is the board's). When the template changed,
 * every dynamic class takes it and replaces its running processes as
 * they become idle (fcgix_pm_class_redefine()); else each only takes
 * its caps again. httpd's parent has checked that the board's room fits
 * the new limits.
 */
void fcgix_pm_settings_take(pm_t *pm, const fcgix_pm_config_t *next);

/** Keep @p mem (@p size bytes, malloc'd) until nothing points into it.
 *  @return 0, or -1 out of memory (then @p mem is not kept). */
int fcgix_pm_arena_keep(pm_t *pm, void *mem, size_t size);

/** Free every kept arena that no used class and no virtual host record
 *  points into (none while pm->arenas_pinned). */
void fcgix_pm_arenas_sweep(pm_t *pm);

/** Slots of class @p c that would take a request now. */
int fcgix_pm_class_open_slots(const pm_t *pm, int c);

/** The class of @p key and @p path in the PM's own records (never the
 *  board's), or -1. */
int fcgix_pm_class_find_key(const pm_t *pm, const fcgix_sb_key_t *key,
                            const char *path);

/** The FastCgi no-tenant no-identity class of @p path, or -1. */
int fcgix_pm_class_find(const pm_t *pm, const char *path);

/** The dynamic class for @p req, created if there is room;
 *  FCGIX_PM_NO_ROOM or FCGIX_PM_NO_CLASS when there is none. */
int fcgix_pm_class_for(pm_t *pm, const class_req_t *req);

/** Slots of class @p c with a process, or one due or being stopped. */
int fcgix_pm_class_slots_used(const pm_t *pm, int c);

/** Whether a dynamic class is on its way to being free: nothing of it
 *  runs or is due to start. */
int fcgix_pm_class_going(const pm_t *pm);

/** Start one more process of dynamic class @p c if the limits allow
 *  (the class's, its tenant's and identity's caps, -maxProcesses; which
 *  one held goes to the board's "capped"). @return 0 when one runs now. */
int fcgix_pm_class_grow(pm_t *pm, int c);

/** Which eviction may make room: any dynamic app's idle process, or only
 *  one of the same tenant or the same uid. */
typedef struct {
    uint32_t tenant; /* 0: any */
    uint32_t uid;    /* FCGIX_SB_NO_ID: any */
} evict_filter_t;

/** Stop the least recently used idle process of a dynamic app other than
 *  class @p except (-1: none excepted) that @p filter admits (NULL: any).
 *  @return 0 when one was stopped, -1 when none is idle. */
int fcgix_pm_evict_idle(pm_t *pm, int except, const evict_filter_t *filter);

/** Slots of class @p c a new request may take now: open ones, and for
 *  an exclusive class only idle open ones. */
int fcgix_pm_class_ready_slots(const pm_t *pm, int c);

/* ---------------------------------------------------- fcgi_pm_tenant.c */

/** Allocate the tenant counts and publish the caps. @return 0 or -1. */
int fcgix_pm_tenants_init(pm_t *pm);

/** Free what fcgix_pm_tenants_init() allocated. */
void fcgix_pm_tenants_free(pm_t *pm);

/** Command numbers a STARTC can name (fcgi_ctl's indexes). */
#define FCGIX_PM_MAX_COMMANDS 65535

/**
 * The virtual hosts and commands of a new configuration that this PM
 * takes (RECONCILE), worked out before anything changes: numbered as
 * httpd's parent numbered them (fcgi_ids.h), a number @p next names
 * keeps or gets @p next's record, one it leaves empty keeps the one this
 * PM has (old httpd children may still ask for it). The tables are a
 * copy of their own, in an arena the PM keeps (fcgix_pm_arena_keep()),
 * so that they hold no older arena.
 * @param merged  out: its tenants and commands, for
 *                fcgix_pm_tables_adopt()
 * @return 0; FCGIX_PM_NO_ROOM (more virtual host numbers than the board's
 *         records, or fewer numbers than the PM knows; logged);
 *         FCGIX_PM_NO_MEMORY
 */
int fcgix_pm_tables_merge(pm_t *pm, const fcgix_pm_config_t *next,
                          fcgix_pm_config_t *merged);

/** Take @p merged's tables (fcgix_pm_tables_merge()) as the virtual
 *  hosts and commands, and publish the hosts' caps. */
void fcgix_pm_tables_adopt(pm_t *pm, const fcgix_pm_config_t *merged);

/** A slot of class @p c became live (@p delta 1) or stopped being live
 *  (-1): the class's, the tenant's counts and the board's copy. */
void fcgix_pm_tenant_count(pm_t *pm, int c, int delta);

/** The cap (FCGIX_SB_CAP_*) that keeps class @p c from growing now,
 *  FCGIX_SB_CAP_NONE when none does. */
int fcgix_pm_class_cap(const pm_t *pm, int c);

/** Dynamic processes that run as @p uid (FCGIX_SB_NO_ID: 0). */
int fcgix_pm_user_live(const pm_t *pm, uint32_t uid);

/** Publish the per-user counts on the board. */
void fcgix_pm_users_publish(pm_t *pm);

/** Fill @p req for a START, STARTAS or STARTC @p in. @return NULL, or
 *  why it is refused (a FAIL answer's text, in @p why). */
const char *fcgix_pm_request_check(pm_t *pm, const fcgix_ctl_request_t *in,
                                   class_req_t *req, char *why, size_t cap);

/** Set the options of new dynamic class @p c from its key and path: the
 *  FastCgiConfig template for FASTCGI, the tenant's (or its FcgidCmdOptions
 *  entry's) for FCGID. */
void fcgix_pm_class_options(pm_t *pm, int c);

/** The answer's text for a START that its class's tenant or user cap
 *  keeps waiting, logged (FCGIX00537/00538, at most every 10 s per tenant
 *  with a count); NULL when neither cap holds. */
const char *fcgix_pm_cap_busy(pm_t *pm, int c, char *why, size_t cap);

/** A START waits for dynamic class @p c, which has no process at all:
 *  start one, at -maxProcesses after stopping another app's idle one. */
void fcgix_pm_class_start_with_room(pm_t *pm, int c);

/** The maintenance pass: dead holders' leases, updates, scaling,
 *  recycling, freeing classes, answering waiters, due starts.
 *  @return ms until the next due start. */
long long fcgix_pm_maintain(pm_t *pm);

/* ------------------------------------------------------ fcgi_pm_ctl.c */

/** Only executables the httpd user may run become dynamic apps.
 *  @return NULL, or why @p path is not one. */
const char *fcgix_pm_check_executable(const char *path);

/** Whether a START waits for class @p c. */
int fcgix_pm_class_awaited(const pm_t *pm, int c);

/** Answer the waiting STARTs that can be answered now. */
void fcgix_pm_waiters_answer(pm_t *pm);

/** Client @p c may have sent more: act on its line once complete. */
void fcgix_pm_client_serve(pm_t *pm, client_t *c);

/** Take the connections queued on the control socket. */
void fcgix_pm_clients_accept(pm_t *pm);

/** Close the clients whose deadline has passed. @return ms until the
 *  next deadline, at most @p wait. */
long long fcgix_pm_clients_expire(pm_t *pm, long long wait);

/** Listen on the control socket (or take the parent's). @return 0, or
 *  -1 (logged). */
int fcgix_pm_control_open(pm_t *pm);

/** Answer every waiter BUSY, close the clients and the control socket,
 *  and remove its file. */
void fcgix_pm_control_close(pm_t *pm);

#endif /* FCGIX_PM_INT_H */
