/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pm.c
 * @brief Process manager core: sockets, spawning, supervision, scaling,
 *        the control socket, shutdown.
 *
 * What others may read lives on the scoreboard (fcgi_sb.h); what only
 * the PM needs (listening sockets, back-off counters, what to do after a
 * stop) lives in the private arrays below, indexed like the board. A
 * slot changes state only through set_state(). Signal handlers only set
 * flags and wake the loop through a self-pipe.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* close_range, prctl, pipe2, accept4 */
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcgi_ctl.h"
#include "fcgi_pm.h"

#define TICK_MS 1000
#define MAX_WAITERS 256
/* How long a START may wait for a process that is being replaced. */
#define WAITER_MS 5000

/* What happens to a slot once the process we stopped has exited. */
enum { AFTER_EMPTY = 0, AFTER_RESTART };

typedef struct {
    pid_t pid;
    int state;            /* FCGIX_SB_* */
    int fd;               /* listening socket, -1 when not bound */
    long long started;    /* ms, monotonic */
    long long next_start; /* ms, monotonic; BACKOFF only */
    int failures;         /* consecutive failed starts */
    int exec_failed;      /* the child reported a failure before exec */
    int after_stop;       /* AFTER_*, STOPPING only */
    int update_pending;   /* replace once idle: the file changed */
    int ever_started;
    int dynamic;    /* belongs to a dynamic class */
    int port_waits; /* -port still in use: retries so far */
    char socket_path[FCGIX_SB_SOCK_MAX]; /* what we bound; the board's
                                            copy is for others to read */
} pslot_t;

typedef struct {
    fcgix_pm_app_t cfg;
    int dynamic;
    char *path; /* owned copies */
    char *base;
    char *dir;
    char *user; /* owned copies, wrapper only */
    char *group;
    const char *exec_path; /* path, or the wrapper */
    int shared_fd;         /* -port: the TCP socket all processes share */
    const char *argv0[5];  /* used when cfg.argv is NULL */
    long min_life;
    int first;  /* its slots: first .. first + nslots - 1; the PM's own */
    int nslots; /* copy, never read back from the board */
} pclass_t;

typedef struct {
    int fd;
    int cls; /* -1: no class yet (none was free when the START came) */
    long long deadline;
    char *path; /* cls -1 only: owned copies, to make its class with */
    char *user;
    char *group;
} waiter_t;

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
enum { REFUSE_STRANGER, REFUSE_FULL, REFUSE_LATE, REFUSE_BAD, NREFUSALS };

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
    const fcgix_pm_config_t *cfg;
    fcgix_sb_t *sb;
    pclass_t *classes; /* like the board's */
    int nclasses;      /* in use */
    pslot_t *slots;    /* like the board's */
    int nslots;        /* in use */
    int dyn_slot_base; /* first slot of the dynamic classes */
    int dyn_per_class;
    int dyn_classes;        /* room for dynamic classes (the PM's own count) */
    long long holders_seen; /* ms, monotonic: last look at the holders */
    int dyn_live; /* dynamic slots that count against -maxProcesses and
                     -minProcesses: see counts_as_live() */
    int ctl_fd;
    waiter_t waiters[MAX_WAITERS];
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
} pm_t;

static int class_of_slot(const pm_t *pm, int i);
static const char *check_executable(const char *path);

/* Whether class @c holds an app: a dynamic class is freed once its last
 * process is gone, and its index given to the next app. */
static int class_used(const pm_t *pm, int c)
{
    return pm->classes[c].path != NULL;
}

/* The one way to walk the slots of class @c:
 *     for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) { ... }
 * The bounds come from the PM's own records: a process of the User may
 * write anything on the board, and the PM indexes its private arrays
 * with them. */
#define FCGIX_PM_CLASS_SLOTS(pm, c, i)                                         \
    (i) = (pm)->classes[c].first;                                              \
    (i) < (pm)->classes[c].first + (pm)->classes[c].nslots;                    \
    (i)++

/* What a child writes to the error pipe when it fails before execve. */
typedef struct {
    int stage; /* 0: chdir, 1: execve, 2: parent gone */
    int err;
} spawn_err_t;

static volatile sig_atomic_t stop_flag;     /* signal number */
static volatile sig_atomic_t graceful_flag; /* SIGUSR1 */
static volatile sig_atomic_t wake_fd = -1;
static int wake_rd = -1;

static const int handled_signals[] = {SIGTERM, SIGHUP, SIGINT, SIGUSR1,
                                      SIGCHLD};
#define NHANDLED (int)(sizeof(handled_signals) / sizeof(handled_signals[0]))

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pm_log(const pm_t *pm, int level, int logno, const pclass_t *cls,
                   pid_t pid, const char *fmt, ...)
{
    char msg[512], line[1600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (cls) {
        snprintf(line, sizeof(line), "fastcgi pm: %sapp %s (pid %ld): %s",
                 cls->dynamic ? "dynamic " : "", cls->path, (long)pid, msg);
    }
    else {
        snprintf(line, sizeof(line), "fastcgi pm (pid %ld): %s", (long)pid,
                 msg);
    }
    pm->cfg->log(pm->cfg->baton, level, logno, line);
}

static const char *ordinal(int n)
{
    if (n % 100 >= 11 && n % 100 <= 13) {
        return "th";
    }
    switch (n % 10) {
    case 1:
        return "st";
    case 2:
        return "nd";
    case 3:
        return "rd";
    default:
        return "th";
    }
}

long fcgix_pm_backoff_ms(int restart_delay_ms, int failures)
{
    long delay;
    int i;

    if (failures <= 0) {
        return restart_delay_ms > 0 ? restart_delay_ms : 0;
    }
    delay = restart_delay_ms > FCGIX_PM_MIN_BACKOFF_MS
                ? restart_delay_ms
                : FCGIX_PM_MIN_BACKOFF_MS;
    /* The first failure waits -restart-delay (mod_fastcgi's meaning),
     * each one after it twice as long as the one before. */
    for (i = 1; i < failures && delay < FCGIX_PM_MAX_BACKOFF_MS; i++) {
        delay *= 2;
    }
    return delay < FCGIX_PM_MAX_BACKOFF_MS ? delay : FCGIX_PM_MAX_BACKOFF_MS;
}

/* Dynamic classes and slots per class the board has room for. */
static int dynamic_room(const fcgix_pm_config_t *cfg, int *per_class)
{
    int max = cfg->max_processes > 0 ? cfg->max_processes
                                     : FCGIX_PM_DEFAULT_MAX_PROCESSES;
    int per = cfg->dynamic.processes > 0 ? cfg->dynamic.processes : 1;
    int classes;

    if (cfg->control_path == NULL) {
        *per_class = 0;
        return 0;
    }
    if (per > max) {
        per = max;
    }
    classes = max;
    if ((long)classes * per > FCGIX_PM_MAX_DYNAMIC_SLOTS) {
        classes = FCGIX_PM_MAX_DYNAMIC_SLOTS / per;
    }
    *per_class = per;
    return classes;
}

int fcgix_pm_board_slots(const fcgix_pm_config_t *cfg, int *nclasses)
{
    int i, per, dyn = dynamic_room(cfg, &per), slots = dyn * per;

    for (i = 0; i < cfg->napps; i++) {
        slots += cfg->apps[i].processes > 0 ? cfg->apps[i].processes : 1;
    }
    *nclasses = cfg->napps + dyn;
    return slots;
}

/* ------------------------------------------------------------------ */
/* Signals                                                             */
/* ------------------------------------------------------------------ */

static void on_signal(int sig)
{
    int saved = errno;
    char c = 0;

    if (sig == SIGUSR1) {
        graceful_flag = 1;
    }
    else if (sig != SIGCHLD) {
        stop_flag = sig;
    }
    if (wake_fd >= 0 && write(wake_fd, &c, 1) < 0) {
        /* pipe full: the loop is already due to wake up */
    }
    errno = saved;
}

static int install_signals(struct sigaction *old)
{
    struct sigaction sa;
    int i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NOCLDSTOP;
    for (i = 0; i < NHANDLED; i++) {
        if (sigaction(handled_signals[i], &sa, &old[i]) != 0) {
            return -1;
        }
    }
    return 0;
}

static void restore_signals(const struct sigaction *old)
{
    int i;

    for (i = 0; i < NHANDLED; i++) {
        sigaction(handled_signals[i], &old[i], NULL);
    }
}

static void drain_wake_pipe(void)
{
    char buf[64];

    while (read(wake_rd, buf, sizeof(buf)) > 0) {
    }
}

/* ------------------------------------------------------------------ */
/* Sockets                                                             */
/* ------------------------------------------------------------------ */

/* Only a stale socket is removed; any other file at that path is an
 * error, so that a typo in -socket cannot delete someone's file. */
static int remove_stale(const char *path)
{
    struct stat st;

    if (lstat(path, &st) != 0) {
        return errno == ENOENT ? 0 : -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        errno = EEXIST;
        return -1;
    }
    return unlink(path);
}

/* A listening Unix socket at @path, mode 0600; -1 with errno and *what
 * naming the step that failed. */
static int listen_unix(const char *path, int depth, const char **what)
{
    struct sockaddr_un sa;
    mode_t old_mask;
    int fd, rc, err;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    *what = "bind";
    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(sa.sun_path, path);
    if (remove_stale(path) != 0) {
        *what = "remove the stale socket";
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *what = "create a socket for";
        return -1;
    }
    old_mask = umask(0077); /* socket file 0600: only our user connects */
    rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old_mask);
    if (rc == 0 && listen(fd, depth) != 0) {
        *what = "listen on";
        rc = -1;
    }
    if (rc != 0) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

int fcgix_pm_control_listen(const char *path)
{
    const char *what;

    return listen_unix(path, 128, &what);
}

static int slot_index_in_class(const pm_t *pm, int i, int c)
{
    return i - pm->classes[c].first;
}

/* A listening TCP socket on 127.0.0.1:@port; -1 with errno. */
static int listen_tcp(int port, int depth)
{
    struct sockaddr_in sa;
    int fd, on = 1, err;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0
        || listen(fd, depth) != 0) {
        err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* During a graceful restart the previous configuration's PM holds a
 * -port socket until its processes are idle: try again soon, for a
 * while, before counting it as a failure. */
#define PORT_RETRY_MS 200
#define PORT_RETRIES 100

static int is_shared(const pclass_t *cls)
{
    return cls->cfg.port > 0;
}

/* -port: every process of the class accepts on one TCP socket, bound
 * when the first one starts. */
/* Show the slot's socket on the board, for the handlers and the status
 * page. */
static void publish_socket(pm_t *pm, int i)
{
    fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);

    memcpy(s->socket_path, pm->slots[i].socket_path, sizeof(s->socket_path));
}

static int bind_shared(pm_t *pm, int c, int i, int depth)
{
    pclass_t *cls = &pm->classes[c];
    pslot_t *ps = &pm->slots[i];

    snprintf(ps->socket_path, sizeof(ps->socket_path), "127.0.0.1:%d",
             cls->cfg.port);
    publish_socket(pm, i);
    if (cls->shared_fd < 0) {
        cls->shared_fd = listen_tcp(cls->cfg.port, depth);
    }
    if (cls->shared_fd < 0) {
        int err = errno, waits = pm->slots[i].port_waits;

        if (err != EADDRINUSE || waits == 0 || waits >= PORT_RETRIES) {
            pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00500), cls, getpid(),
                   "cannot listen on %s: %s%s", ps->socket_path, strerror(err),
                   err == EADDRINUSE && waits < PORT_RETRIES
                       ? "; trying again every 200 ms for 20 s (the "
                         "previous configuration may still hold it)"
                       : "");
        }
        errno = err;
        return -1;
    }
    pm->slots[i].fd = cls->shared_fd;
    return 0;
}

/* Bind the slot's socket unless it is bound already (it stays bound
 * across restarts of its process, so queued connections survive). */
static int bind_slot(pm_t *pm, int c, int i)
{
    pclass_t *cls = &pm->classes[c];
    pslot_t *ps = &pm->slots[i];
    int depth = cls->cfg.listen_queue_depth > 0 ? cls->cfg.listen_queue_depth
                                                : FCGIX_PM_DEFAULT_LISTEN_QUEUE;
    const char *what;

    if (pm->slots[i].fd >= 0) {
        return 0;
    }
    if (is_shared(cls)) {
        return bind_shared(pm, c, i, depth);
    }
    snprintf(ps->socket_path, sizeof(ps->socket_path), "%s.%d", cls->base,
             slot_index_in_class(pm, i, c));
    publish_socket(pm, i);
    ps->fd = listen_unix(ps->socket_path, depth, &what);
    if (ps->fd < 0) {
        pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00501), cls, getpid(),
               "cannot %s %s: %s", what, ps->socket_path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Close a -port class's socket once none of its processes is left, so
 * that the next configuration's PM can bind the port. */
static void release_shared(pm_t *pm, int c)
{
    pclass_t *cls = &pm->classes[c];
    int i;

    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (pm->slots[i].fd >= 0) {
            return;
        }
    }
    close(cls->shared_fd);
    cls->shared_fd = -1;
}

static void unbind_slot(pm_t *pm, int i)
{
    int c;

    if (pm->slots[i].fd < 0) {
        return;
    }
    c = class_of_slot(pm, i);
    if (c >= 0 && is_shared(&pm->classes[c])) {
        pm->slots[i].fd = -1; /* the others still accept on it */
        release_shared(pm, c);
        return;
    }
    close(pm->slots[i].fd);
    pm->slots[i].fd = -1;
    unlink(pm->slots[i].socket_path); /* never a path read from the board */
}

/* ------------------------------------------------------------------ */
/* The apps' raw stderr                                                */
/* ------------------------------------------------------------------ */

/* Each process's fd 2 is a pipe the PM reads from its loop, never
 * blocking: each line goes to the log named after the app and the pid,
 * as the app wrote it (the log callback escapes: httpd's error log
 * escapes every message, so escaping here too would show "\\x1b" for
 * an ESC), and at most FCGIX_PM_STDERR_MAX bytes per
 * FCGIX_PM_STDERR_WINDOW_MS, so that a flood neither fills the disk nor
 * holds the loop (the rest is read and counted). A pipe is read at most
 * STDERR_PASS bytes per pass. */
#define STDERR_CHUNK 16384
#define STDERR_PASS (4 * STDERR_CHUNK)

/* The letter of the two-character escape of @c, or 0 (those of httpd's
 * ap_escape_errorlog_item()). */
static char named_escape(unsigned char c)
{
    switch (c) {
    case '\b':
        return 'b';
    case '\n':
        return 'n';
    case '\r':
        return 'r';
    case '\t':
        return 't';
    case '\v':
        return 'v';
    case '\\':
        return '\\';
    default:
        return 0;
    }
}

size_t fcgix_pm_escape(char *out, size_t cap, const char *in, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i, k;
    char esc[4];

    if (cap == 0) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        k = 0;
        if (named_escape(c)) {
            esc[k++] = '\\';
            esc[k++] = named_escape(c);
        }
        else if (c < 0x20 || c >= 0x7f) {
            esc[k++] = '\\';
            esc[k++] = 'x';
            esc[k++] = hex[c >> 4];
            esc[k++] = hex[c & 15];
        }
        else {
            esc[k++] = (char)c;
        }
        if (o + k >= cap) {
            break; /* never half an escape */
        }
        memcpy(out + o, esc, k);
        o += k;
    }
    out[o] = '\0';
    return o;
}

static void log_app_line(pm_t *pm, applog_t *a)
{
    char line[FCGIX_PM_STDERR_LINE_MAX + FCGIX_SB_PATH_MAX + 64];
    const pclass_t *cls = &pm->classes[a->cls];
    size_t len = a->len, i;

    if (len > 0 && a->line[len - 1] == '\r') {
        len--; /* CRLF, as the handler does */
    }
    for (i = 0; i < len; i++) {
        if (a->line[i] == '\0') {
            a->line[i] = '?'; /* as the handler does; C strings end there */
        }
    }
    snprintf(line, sizeof(line), "fastcgi pm: %sapp %s (pid %ld) stderr: %.*s",
             cls->dynamic ? "dynamic " : "", cls->path, (long)a->pid, (int)len,
             a->line);
    pm->cfg->log(pm->cfg->baton, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00070),
                 line);
    a->len = 0;
}

/* Say how much the cap dropped since it was last said. */
static void report_dropped(pm_t *pm, applog_t *a)
{
    if (a->dropped > 0) {
        pm_log(
            pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00502), &pm->classes[a->cls],
            a->pid, "%llu bytes of stderr dropped (more than %d bytes in %d s)",
            a->dropped, FCGIX_PM_STDERR_MAX, FCGIX_PM_STDERR_WINDOW_MS / 1000);
        a->dropped = 0;
    }
}

/* A new window once the current one is over. */
static void roll_window(pm_t *pm, applog_t *a, long long now)
{
    if (now - a->window_start >= FCGIX_PM_STDERR_WINDOW_MS) {
        report_dropped(pm, a);
        a->window_start = now;
        a->logged = 0;
    }
}

/* Bytes past the window's budget: the partial line is logged, the
 * first drop said at once, and the rest counted. */
static void drop_bytes(pm_t *pm, applog_t *a, size_t n)
{
    if (a->dropped == 0) {
        if (a->len > 0) {
            log_app_line(pm, a);
        }
        pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00503),
               &pm->classes[a->cls], a->pid,
               "wrote more than %d bytes to stderr within %d s; the rest "
               "of them is dropped",
               FCGIX_PM_STDERR_MAX, FCGIX_PM_STDERR_WINDOW_MS / 1000);
    }
    a->dropped += n;
}

/* Cut what fits the budget into lines; a line longer than
 * FCGIX_PM_STDERR_LINE_MAX is logged in pieces. */
static void take_stderr(pm_t *pm, applog_t *a, const char *data, size_t n)
{
    size_t room = FCGIX_PM_STDERR_MAX - a->logged, i;
    size_t take = n < room ? n : room;

    a->logged += take;
    for (i = 0; i < take; i++) {
        if (data[i] == '\n') {
            log_app_line(pm, a);
            continue;
        }
        a->line[a->len++] = data[i];
        if (a->len == FCGIX_PM_STDERR_LINE_MAX) {
            log_app_line(pm, a);
        }
    }
    if (take < n) {
        drop_bytes(pm, a, n - take);
    }
}

/* The process is gone (or replaced): what it wrote last, then close. */
static void close_stderr(pm_t *pm, applog_t *a)
{
    if (a->fd < 0) {
        return;
    }
    if (a->len > 0) {
        log_app_line(pm, a);
    }
    report_dropped(pm, a);
    close(a->fd);
    a->fd = -1;
    free(a->line);
    a->line = NULL;
}

/* Read what the process of slot @i wrote, up to STDERR_PASS bytes. */
static void read_stderr(pm_t *pm, int i)
{
    applog_t *a = &pm->applogs[i];
    char buf[STDERR_CHUNK];
    size_t total = 0;
    ssize_t n;

    while (a->fd >= 0 && total < STDERR_PASS) {
        n = read(a->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return;
        }
        if (n <= 0) {
            close_stderr(pm, a); /* EOF: every writer is gone */
            return;
        }
        roll_window(pm, a, now_ms());
        take_stderr(pm, a, buf, (size_t)n);
        total += (size_t)n;
    }
}

/* A pipe for the fd 2 of the process about to start in slot @i of
 * class @c; its read end is kept in the slot's log. @return the write
 * end for the child, or -1: the child keeps the PM's fd 2. */
static int open_stderr(pm_t *pm, int c, int i)
{
    applog_t *a = &pm->applogs[i];
    int p[2];

    /* Still open: a child of the previous process holds its write end.
     * Whatever it has written so far is logged; the rest is not. */
    if (a->fd >= 0) {
        read_stderr(pm, i);
        close_stderr(pm, a);
    }
    if (a->line == NULL
        && (a->line = malloc(FCGIX_PM_STDERR_LINE_MAX)) == NULL) {
        return -1;
    }
    if (pipe2(p, O_CLOEXEC) != 0) {
        pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00504), &pm->classes[c],
               getpid(),
               "cannot make a pipe for the stderr of a process: %s; it "
               "writes to the PM's",
               strerror(errno));
        return -1;
    }
    fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
    a->fd = p[0];
    a->cls = c;
    a->len = 0;
    a->logged = 0;
    a->dropped = 0;
    a->window_start = now_ms();
    return p[1];
}

/* Without poll(): during the shutdown, so that no process blocks on a
 * full pipe while it is being stopped. */
static void read_all_stderr(pm_t *pm)
{
    int i;

    for (i = 0; i < pm->nslots; i++) {
        if (pm->applogs[i].fd >= 0) {
            read_stderr(pm, i);
        }
    }
}

/* Windows that ended with bytes dropped: say so now rather than at the
 * process's next write, which may never come. */
static void report_windows(pm_t *pm)
{
    long long now = now_ms();
    int i;

    for (i = 0; i < pm->nslots; i++) {
        applog_t *a = &pm->applogs[i];

        if (a->fd >= 0 && a->dropped > 0) {
            roll_window(pm, a, now);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Spawning                                                            */
/* ------------------------------------------------------------------ */

static void close_other_fds(int keep)
{
    long max, fd;

    /* keep > 2 always: fcgix_pm_run() makes sure 0..2 are open. */
    if (close_range(3, (unsigned)keep - 1, 0) == 0
        && close_range((unsigned)keep + 1, ~0U, 0) == 0) {
        return;
    }
    max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536) {
        max = 65536;
    }
    for (fd = 3; fd < max; fd++) {
        if (fd != keep) {
            close((int)fd);
        }
    }
}

static void reset_signals(void)
{
    sigset_t none;
    int sig;

    for (sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            signal(sig, SIG_DFL); /* fails harmlessly for RT internals */
        }
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void child_fail(int errfd, int stage, int err)
{
    spawn_err_t e;

    e.stage = stage;
    e.err = err;
    if (write(errfd, &e, sizeof(e)) < 0) {
        /* nobody to tell */
    }
    _exit(127);
}

/* In the child, after fork: never returns. Only async-signal-safe calls
 * (the PM is single-threaded, but stay strict anyway). */
static void exec_child(const pclass_t *cls, int listen_fd, pid_t pm_pid,
                       int errfd, int stderr_fd)
{
    const char *const *argv = cls->cfg.argv ? cls->cfg.argv : cls->argv0;
    static const char *const empty_env[] = {NULL};
    const char *const *env = cls->cfg.env ? cls->cfg.env : empty_env;

    reset_signals();
    /* The app must not outlive the PM; check getppid() afterwards in case
     * the PM died before prctl() took effect. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != pm_pid) {
        child_fail(errfd, 2, ESRCH);
    }
    if (dup2(listen_fd, 0) != 0) { /* FCGI_LISTENSOCK_FILENO */
        child_fail(errfd, 1, errno);
    }
    if (stderr_fd >= 0 && dup2(stderr_fd, 2) != 2) { /* read by the PM */
        child_fail(errfd, 1, errno);
    }
    close_other_fds(errfd);
    if (chdir(cls->dir) != 0) {
        child_fail(errfd, 0, errno);
    }
    if (cls->cfg.priority > 0) {
        setpriority(PRIO_PROCESS, 0, cls->cfg.priority);
    }
    execve(cls->exec_path, (char *const *)argv, (char *const *)env);
    child_fail(errfd, 1, errno);
}

/* A dynamic slot counts against the limits while its process runs, is
 * due to restart, or is being replaced; not once it is being stopped for
 * good (so one pass cannot stop more idle processes than -minProcesses
 * allows). */
static int counts_as_live(const pslot_t *ps)
{
    return ps->dynamic
           && (ps->state == FCGIX_SB_RUNNING || ps->state == FCGIX_SB_BACKOFF
               || (ps->state == FCGIX_SB_STOPPING
                   && ps->after_stop == AFTER_RESTART));
}

/* The one place where a slot's state changes; the board mirrors it.
 * Callers set after_stop before moving a slot to STOPPING. */
static void set_state(pm_t *pm, int i, int state, pid_t pid)
{
    fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);
    pslot_t *ps = &pm->slots[i];

    pm->dyn_live -= counts_as_live(ps);
    ps->state = state;
    pm->dyn_live += counts_as_live(ps);
    ps->pid = pid;
    __atomic_store_n(&s->pid, (int32_t)pid, __ATOMIC_RELEASE);
    __atomic_store_n(&s->state, (uint32_t)state, __ATOMIC_RELEASE);
    if (state == FCGIX_SB_RUNNING) {
        ps->started = now_ms();
        ps->exec_failed = 0;
        s->started_ms = wall_ms();
        s->backoff_until_ms = 0;
    }
}

/* Read the child's verdict: EOF means execve succeeded (the pipe end is
 * close-on-exec), a record means it failed before. */
static int read_verdict(const pm_t *pm, const pclass_t *cls, pid_t pid, int rd)
{
    static const char *const what[] = {"chdir to", "exec", "start"};
    spawn_err_t e;
    ssize_t n;

    do {
        n = read(rd, &e, sizeof(e));
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(e) && e.stage >= 0 && e.stage <= 2) {
        pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00505), cls, pid,
               "cannot %s %s: %s", what[e.stage],
               e.stage == 0 ? cls->dir : cls->exec_path, strerror(e.err));
        return -1;
    }
    return 0;
}

static void schedule_start(pm_t *pm, int i, long delay)
{
    fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);

    pm->slots[i].next_start = now_ms() + delay;
    s->backoff_until_ms = wall_ms() + delay;
    set_state(pm, i, FCGIX_SB_BACKOFF, 0);
}

static int port_still_held(const pclass_t *cls, pslot_t *ps, int err)
{
    if (!is_shared(cls) || err != EADDRINUSE
        || ps->port_waits >= PORT_RETRIES) {
        return 0;
    }
    ps->port_waits++;
    return 1;
}

/* Start the process of slot @i of class @c; on success the slot takes
 * requests. */
static void spawn(pm_t *pm, int c, int i)
{
    pclass_t *cls = &pm->classes[c];
    pslot_t *ps = &pm->slots[i];
    fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);
    sigset_t all, old;
    int errpipe[2], err_w;
    pid_t pid, self = getpid();

    if (bind_slot(pm, c, i) != 0 || pipe2(errpipe, O_CLOEXEC) != 0) {
        if (port_still_held(cls, ps, errno)) {
            schedule_start(pm, i, PORT_RETRY_MS);
            return;
        }
        ps->failures++;
        schedule_start(
            pm, i,
            fcgix_pm_backoff_ms(cls->cfg.restart_delay_ms, ps->failures));
        return;
    }
    err_w = open_stderr(pm, c, i);
    /* Block signals so that the child cannot run our handlers before it
     * has reset them. */
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid = fork();
    if (pid == 0) {
        close(errpipe[0]);
        exec_child(cls, ps->fd, self, errpipe[1], err_w);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(errpipe[1]);
    if (err_w >= 0) {
        close(err_w);
    }
    pm->applogs[i].pid = pid;
    if (pid < 0) {
        close_stderr(pm, &pm->applogs[i]);
        pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00506), cls, getpid(),
               "fork: %s", strerror(errno));
        ps->failures++;
        schedule_start(
            pm, i,
            fcgix_pm_backoff_ms(cls->cfg.restart_delay_ms, ps->failures));
        close(errpipe[0]);
        return;
    }
    if (ps->ever_started) {
        s->restarts++;
    }
    ps->ever_started = 1;
    ps->port_waits = 0;
    set_state(pm, i, FCGIX_SB_RUNNING, pid);
    ps->update_pending = 0;
    __atomic_store_n(&s->retiring, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&s->hung, 0, __ATOMIC_RELEASE);
    if (read_verdict(pm, cls, pid, errpipe[0]) != 0) {
        ps->exec_failed = 1; /* it exits at once; reap() backs off */
    }
    else {
        fcgix_sb_open(s);
        pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00507), cls, pid,
               "started on %s", ps->socket_path);
    }
    close(errpipe[0]);
}

/* ------------------------------------------------------------------ */
/* Supervision                                                         */
/* ------------------------------------------------------------------ */

static int class_of_slot(const pm_t *pm, int i)
{
    int c;

    for (c = 0; c < pm->nclasses; c++) {
        if (class_used(pm, c) && i >= pm->classes[c].first
            && i < pm->classes[c].first + pm->classes[c].nslots) {
            return c;
        }
    }
    return -1;
}

/* Requests the process in slot @i has served (given back). */
static uint64_t served_requests(const pm_t *pm, int i)
{
    return __atomic_load_n(&fcgix_sb_slot(pm->sb, i)->requests,
                           __ATOMIC_ACQUIRE);
}

static int find_slot(const pm_t *pm, pid_t pid)
{
    int i;

    for (i = 0; i < pm->nslots; i++) {
        if (pm->slots[i].pid == pid
            && (pm->slots[i].state == FCGIX_SB_RUNNING
                || pm->slots[i].state == FCGIX_SB_STOPPING)) {
            return i;
        }
    }
    return -1;
}

static void log_exit(const pm_t *pm, const pclass_t *cls, pid_t pid, int st)
{
    if (WIFEXITED(st)) {
        pm_log(pm, WEXITSTATUS(st) ? FCGIX_PM_LOG_WARN : FCGIX_PM_LOG_INFO,
               FCGIX_PM_LOGNO(00508), cls, pid, "exited with status %d",
               WEXITSTATUS(st));
    }
    else if (WIFSIGNALED(st)) {
        pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00509), cls, pid,
               "died of signal %d (%s)%s", WTERMSIG(st),
               strsignal(WTERMSIG(st)), WCOREDUMP(st) ? ", core dumped" : "");
    }
}

/* A process that ends before -min-server-life without having served a
 * request is a failed start, and so is one that could not be executed:
 * those are backed off. */
static int failed_start(const pm_t *pm, int c, int i)
{
    const pslot_t *ps = &pm->slots[i];

    if (ps->exec_failed) {
        return 1;
    }
    return served_requests(pm, i) == 0
           && now_ms() - ps->started < pm->classes[c].min_life;
}

/* A process died on its own: decide when its slot starts again. One
 * that served requests had started well; it crashed or exited (php-cgi
 * after PHP_FCGI_MAX_REQUESTS), and is replaced at once, so that the
 * requests after a crash are served. Other deaths wait -restart-delay,
 * failed starts longer each time in a row. */
static void schedule_restart(pm_t *pm, int c, int i, pid_t pid)
{
    pclass_t *cls = &pm->classes[c];
    pslot_t *ps = &pm->slots[i];
    long long lived = now_ms() - ps->started;
    int failed = failed_start(pm, c, i);
    long delay;

    ps->failures = failed ? ps->failures + 1 : 0;
    delay = served_requests(pm, i) > 0
                ? 0
                : fcgix_pm_backoff_ms(cls->cfg.restart_delay_ms, ps->failures);
    if (failed) {
        fcgix_sb_class(pm->sb, c)->failed_starts++;
        pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00510), cls, pid,
               "exited after %lld ms, %d%s failure in a row; "
               "backing off, next start in %ld ms",
               lived, ps->failures, ordinal(ps->failures), delay);
    }
    else {
        pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00511), cls, pid,
               "lived %lld ms; restarting in %ld ms", lived, delay);
    }
    schedule_start(pm, i, delay);
}

/* A process we stopped has exited. */
static void stopped(pm_t *pm, int i)
{
    pslot_t *ps = &pm->slots[i];

    if (ps->after_stop == AFTER_RESTART && !stop_flag && !graceful_flag) {
        ps->failures = 0;
        schedule_start(pm, i, 0);
        return;
    }
    set_state(pm, i, FCGIX_SB_EMPTY, 0);
    unbind_slot(pm, i);
}

static void reap(pm_t *pm)
{
    pid_t pid;
    int st, i, c;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        i = find_slot(pm, pid);
        if (i < 0) {
            continue; /* not ours (the caller's own children) */
        }
        c = class_of_slot(pm, i);
        if (pm->slots[i].state == FCGIX_SB_STOPPING) {
            stopped(pm, i);
            continue;
        }
        /* No new request may queue on a socket nobody serves; leases
         * taken before are ignored when given back. Connections already
         * queued are reset rather than left waiting for a restart that
         * may be backed off for a minute. */
        fcgix_sb_close(fcgix_sb_slot(pm->sb, i));
        unbind_slot(pm, i);
        log_exit(pm, &pm->classes[c], pid, st);
        schedule_restart(pm, c, i, pid);
    }
}

/* Stop the process of a slot that no request uses any more. */
static void stop_slot(pm_t *pm, int c, int i, int after, const char *why)
{
    pslot_t *ps = &pm->slots[i];

    pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00512), &pm->classes[c],
           ps->pid, "stopping: %s", why);
    ps->after_stop = after;
    kill(ps->pid, SIGTERM);
    set_state(pm, i, FCGIX_SB_STOPPING, ps->pid);
}

/* ------------------------------------------------------------------ */
/* Classes                                                             */
/* ------------------------------------------------------------------ */

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        return strdup(".");
    }
    return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

/* Set up class @c (board and private parts) with @n slots from @first. */
/* How the process is run: the app itself, or "wrapper user group name"
 * in the app's directory (suexec takes a name relative to its cwd). */
static int set_command(pclass_t *cls, const char *user, const char *group)
{
    const char *slash = strrchr(cls->path, '/');

    cls->exec_path = cls->path;
    cls->argv0[0] = cls->path;
    if (cls->cfg.wrapper == NULL) {
        return 0;
    }
    cls->user = strdup(user ? user : "");
    cls->group = strdup(group ? group : "");
    if (cls->user == NULL || cls->group == NULL || !*cls->user
        || !*cls->group) {
        return -1;
    }
    cls->exec_path = cls->cfg.wrapper;
    cls->argv0[0] = cls->cfg.wrapper;
    cls->argv0[1] = cls->user;
    cls->argv0[2] = cls->group;
    cls->argv0[3] = slash ? slash + 1 : cls->path;
    return 0;
}

/* Forget the app class @c held (its slots are empty and unbound). */
static void clear_class(pm_t *pm, int c)
{
    pclass_t *cls = &pm->classes[c];

    free(cls->path);
    free(cls->base);
    free(cls->dir);
    free(cls->user);
    free(cls->group);
    memset(cls, 0, sizeof(*cls));
    cls->shared_fd = -1;
}

/* A slot as new, for the app its class gets now: nothing of the
 * previous app's process may show on the board (a hung mark would kill
 * the new one); the lease word keeps its epoch and stays closed. */
static void reset_slot(pm_t *pm, int i, int dynamic)
{
    fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);

    memset(&pm->slots[i], 0, sizeof(pm->slots[i]));
    pm->slots[i].fd = -1;
    pm->slots[i].dynamic = dynamic;
    set_state(pm, i, FCGIX_SB_EMPTY, 0);
    __atomic_store_n(&s->retiring, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&s->hung, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&s->requests, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&s->total_requests, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&s->last_used_ms, 0, __ATOMIC_RELEASE);
    s->restarts = 0;
    s->started_ms = 0;
    s->backoff_until_ms = 0;
    memset(s->socket_path, 0, sizeof(s->socket_path));
}

/* Board fields of class @c that handlers raise, cleared for a new app. */
static void reset_flags(fcgix_sb_class_t *k)
{
    __atomic_store_n(&k->more_wanted, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&k->update_wanted, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&k->more_tick_ms, 0, __ATOMIC_RELEASE);
    k->failed_starts = 0;
}

static int init_class(pm_t *pm, int c, const fcgix_pm_app_t *cfg,
                      const char *path, const char *base, int first, int n,
                      int dynamic)
{
    pclass_t *cls = &pm->classes[c];
    fcgix_sb_class_t *k = fcgix_sb_class(pm->sb, c);
    struct stat st;
    int i;

    /* Handlers stop matching the index before its path changes. */
    fcgix_sb_class_begin(k);
    cls->cfg = *cfg;
    cls->dynamic = dynamic;
    cls->shared_fd = -1;
    cls->path = strdup(path);
    cls->base = strdup(base);
    cls->dir = cfg->dir ? strdup(cfg->dir) : dir_of(path);
    if (cls->path == NULL || cls->base == NULL || cls->dir == NULL
        || strlen(path) >= sizeof(k->path)
        || set_command(cls, cfg->user, cfg->group) != 0) {
        clear_class(pm, c);
        return -1;
    }
    cls->min_life = cfg->min_server_life_ms > 0 ? cfg->min_server_life_ms
                                                : FCGIX_PM_DEFAULT_MIN_LIFE_MS;
    cls->first = first;
    cls->nslots = n;
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        reset_slot(pm, i, dynamic);
    }
    reset_flags(k);
    strcpy(k->path, path);
    k->kind = dynamic ? FCGIX_SB_DYNAMIC : FCGIX_SB_STATIC;
    k->first_slot = (uint32_t)first;
    k->nslots = (uint32_t)n;
    k->mtime_s = stat(path, &st) == 0 ? (int64_t)st.st_mtime : 0;
    k->max_requests = cfg->max_requests > 0 && cfg->port <= 0
                          ? (uint64_t)cfg->max_requests
                          : 0;
    fcgix_sb_class_end(k);
    return 0;
}

/* Static classes: every slot starts now, -init-start-delay apart. */
static int init_static(pm_t *pm)
{
    const fcgix_pm_config_t *cfg = pm->cfg;
    int c, i, n, first = 0;

    for (c = 0; c < cfg->napps; c++) {
        const fcgix_pm_app_t *app = &cfg->apps[c];

        n = app->processes > 0 ? app->processes : 1;
        if (app->path == NULL || app->socket_base == NULL
            || init_class(pm, c, app, app->path, app->socket_base, first, n, 0)
                   != 0) {
            pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00513), NULL, getpid(),
                   "app %d: no path, no socket or path too long", c);
            return -1;
        }
        pm->nclasses = c + 1;
        pm->nslots = first + n;
        for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
            /* Bind every socket now: a path that cannot be bound is a
             * startup error, not something to retry. A -port socket is
             * bound by the first start, and retried with back-off: during
             * a graceful restart the previous PM may hold the port. */
            if (!is_shared(&pm->classes[c]) && bind_slot(pm, c, i)) {
                return -1;
            }
            pm->slots[i].next_start =
                now_ms() + (long long)(i - first) * app->init_start_delay_ms;
            set_state(pm, i, FCGIX_SB_BACKOFF, 0);
        }
        first += n;
    }
    pm->dyn_slot_base = first;
    return 0;
}

/* Slots of class @c that would take a request now. */
static int class_open_slots(const pm_t *pm, int c)
{
    int i, open = 0;

    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        open += fcgix_sb_slot_available(pm->sb, c, i);
    }
    return open;
}

/* The class of @path in the PM's own records (never the board's), or
 * -1. */
static int find_class(const pm_t *pm, const char *path)
{
    int c;

    for (c = 0; c < pm->nclasses; c++) {
        if (class_used(pm, c) && strcmp(pm->classes[c].path, path) == 0) {
            return c;
        }
    }
    return -1;
}

/* A free dynamic class index (one never used, or freed), or -1. Each
 * index has its own slots and socket names, whoever holds it. */
static int free_dynamic_index(const pm_t *pm)
{
    int c, end = pm->cfg->napps + pm->dyn_classes;

    for (c = pm->cfg->napps; c < end; c++) {
        if (c >= pm->nclasses || !class_used(pm, c)) {
            return c;
        }
    }
    return -1;
}

/* Returned by dynamic_class() when no class is free now. */
#define NO_ROOM -1
/* Returned by dynamic_class() when the app cannot have a class. */
#define NO_CLASS -2

/* A dynamic class for @path, created if there is room (run as
 * @user/@group when there is a wrapper; NULL: the template's); NO_ROOM
 * or NO_CLASS when there is none. */
static int dynamic_class(pm_t *pm, const char *path, const char *user,
                         const char *group)
{
    int c = find_class(pm, path), first;
    char base[FCGIX_SB_SOCK_MAX];
    fcgix_pm_app_t cfg = pm->cfg->dynamic;

    if (c >= 0) {
        return c;
    }
    c = free_dynamic_index(pm);
    if (c < 0) {
        return NO_ROOM;
    }
    first = pm->dyn_slot_base + (c - pm->cfg->napps) * pm->dyn_per_class;
    snprintf(base, sizeof(base), "%s%d", pm->cfg->dynamic_base,
             c - pm->cfg->napps);
    if (user && group) {
        cfg.user = user;
        cfg.group = group;
    }
    if (init_class(pm, c, &cfg, path, base, first, pm->dyn_per_class, 1) != 0) {
        pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00514), NULL, getpid(),
               "cannot set up a dynamic class for %s", path);
        return NO_CLASS;
    }
    if (c >= pm->nclasses) {
        pm->nclasses = c + 1;
        pm->nslots = first + pm->dyn_per_class;
    }
    pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00515), &pm->classes[c],
           getpid(), "new dynamic class, up to %d process(es)",
           pm->dyn_per_class);
    return c;
}

/* Whether a START waits for class @c. */
static int class_awaited(const pm_t *pm, int c)
{
    int i;

    for (i = 0; i < pm->nwaiters; i++) {
        if (pm->waiters[i].cls == c) {
            return 1;
        }
    }
    return 0;
}

/* Slots of class @c with a process, or one due or being stopped. */
static int class_slots_used(const pm_t *pm, int c)
{
    int i, used = 0;

    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        used += pm->slots[i].state != FCGIX_SB_EMPTY;
    }
    return used;
}

/* Free dynamic class @c, whose last process is gone: handlers stop
 * finding it first (not ready, new generation), then the PM forgets it;
 * its index and slots go to the next app that needs a class. */
static void free_class(pm_t *pm, int c)
{
    pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00516), &pm->classes[c],
           getpid(), "no process left; its class is free for another app");
    fcgix_sb_class_begin(fcgix_sb_class(pm->sb, c));
    clear_class(pm, c);
}

static void free_unused_classes(pm_t *pm)
{
    int c;

    for (c = pm->cfg->napps; c < pm->nclasses; c++) {
        if (class_used(pm, c) && pm->classes[c].dynamic
            && class_slots_used(pm, c) == 0 && !class_awaited(pm, c)) {
            free_class(pm, c);
        }
    }
}

/* A dynamic class on its way to being free: nothing of it runs or is
 * due to start (its last process may still be stopping). */
static int class_going(const pm_t *pm)
{
    int c, i, live;

    for (c = pm->cfg->napps; c < pm->nclasses; c++) {
        if (!class_used(pm, c) || class_awaited(pm, c)) {
            continue;
        }
        live = 0;
        for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
            live += counts_as_live(&pm->slots[i]);
        }
        if (live == 0) {
            return 1;
        }
    }
    return 0;
}

/* Every dynamic process -maxProcesses allows runs (or is due). */
static int at_max_processes(const pm_t *pm)
{
    int max = pm->cfg->max_processes > 0 ? pm->cfg->max_processes
                                         : FCGIX_PM_DEFAULT_MAX_PROCESSES;

    return pm->dyn_live >= max;
}

/* Start one more process of dynamic class @c if the limits allow. */
static int grow_class(pm_t *pm, int c)
{
    int i;

    if (at_max_processes(pm)) {
        return -1;
    }
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (pm->slots[i].state == FCGIX_SB_EMPTY) {
            spawn(pm, c, i);
            return pm->slots[i].state == FCGIX_SB_RUNNING ? 0 : -1;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Maintenance: starts, scaling, recycling, updates                    */
/* ------------------------------------------------------------------ */

/* The file of class @c changed: replace its processes once idle. */
static void take_update(pm_t *pm, int c)
{
    fcgix_sb_class_t *k = fcgix_sb_class(pm->sb, c);
    struct stat st;
    int i;

    if (stat(pm->classes[c].path, &st) != 0 || st.st_mtime == k->mtime_s) {
        return;
    }
    k->mtime_s = st.st_mtime;
    pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00517), &pm->classes[c],
           getpid(),
           "file changed; replacing its processes as they become idle");
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (pm->slots[i].state == FCGIX_SB_RUNNING) {
            pm->slots[i].update_pending = 1;
            __atomic_store_n(&fcgix_sb_slot(pm->sb, i)->retiring, 1,
                             __ATOMIC_RELEASE);
        }
    }
}

/* Wall-clock ms since which slot @i's process has had no request (its
 * start, if it never had one). */
static long long idle_since(const pm_t *pm, int i)
{
    const fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);
    long long since = __atomic_load_n(&s->last_used_ms, __ATOMIC_ACQUIRE);

    return since < s->started_ms ? s->started_ms : since;
}

/* Why a running process should stop now, or NULL; *after says what
 * follows. Only idle processes are stopped: the caller closes the slot
 * first and stops nothing that a request uses. */
static const char *stop_reason(pm_t *pm, int c, int i, int *after)
{
    const pclass_t *cls = &pm->classes[c];
    fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);

    *after = AFTER_RESTART;
    if (pm->slots[i].update_pending) {
        return "its file changed";
    }
    if (cls->cfg.max_requests > 0 && !is_shared(cls)
        && (long)__atomic_load_n(&s->requests, __ATOMIC_ACQUIRE)
               >= cls->cfg.max_requests) {
        __atomic_store_n(&s->retiring, 1, __ATOMIC_RELEASE);
        return "served its -max-requests";
    }
    if (!cls->dynamic || pm->dyn_live <= pm->cfg->min_processes
        || pm->cfg->kill_interval_ms <= 0) {
        return NULL;
    }
    if (wall_ms() - idle_since(pm, i) >= pm->cfg->kill_interval_ms) {
        *after = AFTER_EMPTY;
        return "idle longer than -killInterval";
    }
    return NULL;
}

/* A request got no answer from this process within -idle-timeout: a
 * hung process would hold every request queued on its socket. Kill it
 * (it may ignore SIGTERM) and start a new one on the same socket, which
 * serves the queued requests; not counted as a failed start. A process
 * whose socket takes no connection (its file was removed) is replaced
 * the same way, on a new socket file. */
static void replace_hung(pm_t *pm, int c, int i, uint32_t why)
{
    pslot_t *ps = &pm->slots[i];

    pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00518), &pm->classes[c],
           ps->pid, "%s; killing it (SIGKILL) and starting a new one",
           why == FCGIX_SB_UNREACHABLE
               ? "takes no connection on its socket (was the socket file "
                 "removed?)"
               : "did not answer a request within -idle-timeout");
    fcgix_sb_close(fcgix_sb_slot(pm->sb, i));
    ps->after_stop = AFTER_RESTART;
    kill(ps->pid, SIGKILL);
    set_state(pm, i, FCGIX_SB_STOPPING, ps->pid);
    if (why == FCGIX_SB_UNREACHABLE) {
        unbind_slot(pm, i); /* the new process gets a new socket file */
    }
}

static void maintain_slot(pm_t *pm, int c, int i)
{
    const char *why;
    uint32_t hung;
    int after;

    if (pm->slots[i].state != FCGIX_SB_RUNNING || pm->slots[i].exec_failed) {
        return;
    }
    /* The flag stays set until the new process opens the slot, so that
     * no request takes the old one meanwhile. */
    hung = __atomic_load_n(&fcgix_sb_slot(pm->sb, i)->hung, __ATOMIC_ACQUIRE);
    if (hung) {
        replace_hung(pm, c, i, hung);
        return;
    }
    why = stop_reason(pm, c, i, &after);
    if (why && fcgix_sb_close_if_idle(fcgix_sb_slot(pm->sb, i))) {
        stop_slot(pm, c, i, after, why);
    }
}

/* A process started for a START that has not leased it yet is spared
 * this long: taking it away would leave that request with nothing. */
#define FRESH_MS 2000

/* Whether slot @i's process may be stopped to make room for another
 * app: running, no request in it, and not one just started that no
 * request has used yet. */
static int evictable(pm_t *pm, int i)
{
    const pslot_t *ps = &pm->slots[i];

    return ps->state == FCGIX_SB_RUNNING && !ps->exec_failed
           && fcgix_sb_users(fcgix_sb_slot(pm->sb, i)) == 0
           && (served_requests(pm, i) > 0
               || now_ms() - ps->started >= FRESH_MS);
}

/* At -maxProcesses (or with no class free): stop the least recently used
 * idle process of a dynamic app other than class @except, closing its
 * slot first so that no request can take it meanwhile. 0 when one was
 * stopped, -1 when none is idle. */
static int evict_idle(pm_t *pm, int except)
{
    long long oldest = 0;
    int c, i, best = -1, best_c = -1;

    for (c = pm->cfg->napps; c < pm->nclasses; c++) {
        if (c == except || !class_used(pm, c) || !pm->classes[c].dynamic) {
            continue;
        }
        for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
            if (evictable(pm, i) && (best < 0 || idle_since(pm, i) < oldest)) {
                best = i;
                best_c = c;
                oldest = idle_since(pm, i);
            }
        }
    }
    if (best < 0 || !fcgix_sb_close_if_idle(fcgix_sb_slot(pm->sb, best))) {
        return -1; /* none idle, or a request took it just now */
    }
    stop_slot(pm, best_c, best, AFTER_EMPTY,
              "least recently used; making room for another app "
              "(-maxProcesses)");
    return 0;
}

/* A START waits for dynamic class @c, which has no process at all:
 * start one, at -maxProcesses after stopping another app's idle one. */
static void start_with_room(pm_t *pm, int c)
{
    if (!pm->classes[c].dynamic || class_slots_used(pm, c) > 0
        || grow_class(pm, c) == 0) {
        return;
    }
    if (at_max_processes(pm) && evict_idle(pm, c) == 0) {
        grow_class(pm, c);
    }
}

/* Requests in flight on class @c, and its processes that take them. */
static void class_load(pm_t *pm, int c, int *in_flight, int *live)
{
    int i, users;

    *in_flight = *live = 0;
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        users = fcgix_sb_users(fcgix_sb_slot(pm->sb, i));
        if (users >= 0) {
            *in_flight += users;
            *live += 1;
        }
    }
}

/* A request found every process of dynamic class @c busy: start one
 * more, or as many as the requests in flight need at once (a burst), up
 * to the limits. */
static void scale_up(pm_t *pm, int c)
{
    int in_flight, live, want, started = 0;

    class_load(pm, c, &in_flight, &live);
    want = in_flight > live + 1 ? in_flight : live + 1;
    while (live + started < want && grow_class(pm, c) == 0) {
        started++;
    }
    if (started > 0) {
        pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00519), &pm->classes[c],
               getpid(),
               "%d request(s) in flight on %d busy process(es); started "
               "%d more",
               in_flight, live, started);
    }
}

/* The board mirrors the PM's records: put back the geometry of class @c
 * if something overwrote it, so that handlers find its slots again. */
static void republish_geometry(pm_t *pm, int c)
{
    fcgix_sb_class_t *k = fcgix_sb_class(pm->sb, c);
    const pclass_t *cls = &pm->classes[c];

    if (k->first_slot != (uint32_t)cls->first
        || k->nslots != (uint32_t)cls->nslots) {
        pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00520), cls, getpid(),
               "its slots on the shared board were overwritten "
               "(first %u, %u slots); restoring them",
               (unsigned)k->first_slot, (unsigned)k->nslots);
        k->first_slot = (uint32_t)cls->first;
        k->nslots = (uint32_t)cls->nslots;
    }
}

static void maintain_class(pm_t *pm, int c)
{
    fcgix_sb_class_t *k = fcgix_sb_class(pm->sb, c);
    int i;

    republish_geometry(pm, c);
    if (__atomic_exchange_n(&k->update_wanted, 0, __ATOMIC_ACQ_REL)) {
        take_update(pm, c);
    }
    if (__atomic_exchange_n(&k->more_wanted, 0, __ATOMIC_ACQ_REL)
        && pm->classes[c].dynamic) {
        scale_up(pm, c);
    }
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        maintain_slot(pm, c, i);
    }
}

/* A dynamic app whose file is gone or no longer executable cannot
 * start again: drop its restart, so that its class is freed (a new START
 * checks the file again). @return 1 when slot @i was dropped. */
static int gone_for_good(pm_t *pm, int c, int i)
{
    const char *why;

    if (!pm->classes[c].dynamic
        || (why = check_executable(pm->classes[c].path)) == NULL) {
        return 0;
    }
    pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00521), &pm->classes[c],
           getpid(), "cannot be started any more (%s); not restarting it", why);
    set_state(pm, i, FCGIX_SB_EMPTY, 0);
    unbind_slot(pm, i);
    return 1;
}

/* Start every slot that is due; return ms until the next due start. */
static long long start_due(pm_t *pm)
{
    long long now = now_ms(), wait = TICK_MS;
    int c, i;

    for (c = 0; c < pm->nclasses; c++) {
        if (!class_used(pm, c)) {
            continue;
        }
        for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
            pslot_t *ps = &pm->slots[i];

            if (ps->state != FCGIX_SB_BACKOFF) {
                continue;
            }
            if (ps->next_start <= now && !gone_for_good(pm, c, i)) {
                spawn(pm, c, i);
                now = now_ms();
            }
            if (ps->state == FCGIX_SB_BACKOFF && ps->next_start - now < wait) {
                wait = ps->next_start > now ? ps->next_start - now : 0;
            }
        }
    }
    return wait;
}

/* Give back the lease @lease of an httpd process @holder that died
 * while it held it (nobody else ever would: its slot would look busy for
 * good). The slot comes from the board: checked against our own count. */
static void give_back_dead(pm_t *pm, const fcgix_sb_lease_t *lease,
                           pid_t holder)
{
    int c;

    if (lease->slot < 0 || lease->slot >= pm->nslots
        || (c = class_of_slot(pm, lease->slot)) < 0
        || !fcgix_sb_lease_current(pm->sb, lease)) {
        return; /* not ours, or its process was replaced since */
    }
    fcgix_sb_return(pm->sb, lease);
    pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00522), &pm->classes[c],
           pm->slots[lease->slot].pid,
           "httpd process %ld died during a request to it; the request's "
           "lease is given back",
           (long)holder);
}

/* Leases whose holder died, found once a second (not on every pass of a
 * busy loop): kill(pid, 0) fails with ESRCH only for a pid that is gone
 * (the PM runs as httpd's User, so a live child answers 0). */
static void reclaim_dead_leases(pm_t *pm)
{
    fcgix_sb_lease_t lease;
    long long now = now_ms();
    int32_t pid, last = 0;
    int rec, dead = 0;

    if (now - pm->holders_seen < TICK_MS) {
        return;
    }
    pm->holders_seen = now;
    for (rec = 0; rec < pm->sb->nholders; rec++) {
        pid = fcgix_sb_holder_pid(pm->sb, rec);
        if (pid <= 0) {
            continue;
        }
        if (pid != last) { /* a child's threads sit side by side */
            last = pid;
            dead = kill(pid, 0) != 0 && errno == ESRCH;
        }
        if (dead && fcgix_sb_holder_take(pm->sb, rec, pid, &lease)) {
            give_back_dead(pm, &lease, pid);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Control socket                                                      */
/* ------------------------------------------------------------------ */

/* The answer is the last thing said on a connection: send it (never
 * blocking: the requester reads it at once or has given up) and close. */
static void send_answer(int fd, const char *line, long n)
{
    if (n > 0 && send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        /* the requester gave up; nothing to do */
    }
    close(fd);
}

static void reply_ok(int fd)
{
    char line[FCGIX_CTL_ANSWER_MAX];

    send_answer(fd, line, fcgix_ctl_put_ok(line, sizeof(line)));
}

/* BUSY (@secs >= 0) or FAIL (@secs < 0) with the reason @fmt, cut to
 * the longest reason. Paths in reasons come from parsed requests, so
 * they hold no control byte; should a reason still be refused, a fixed
 * one is sent rather than nothing. */
static void reply_why(int fd, int secs, const char *fmt, va_list ap)
{
    char why[FCGIX_CTL_WHY_MAX + 1], line[FCGIX_CTL_ANSWER_MAX];
    long n;

    vsnprintf(why, sizeof(why), fmt, ap);
    n = secs >= 0 ? fcgix_ctl_put_busy(line, sizeof(line), secs, why)
                  : fcgix_ctl_put_fail(line, sizeof(line), why);
    if (n < 0) {
        n = fcgix_ctl_put_fail(line, sizeof(line), "unprintable reason");
    }
    send_answer(fd, line, n);
}

static void reply_busy(int fd, int secs, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    reply_why(fd, secs, fmt, ap);
    va_end(ap);
}

static void reply_fail(int fd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    reply_why(fd, -1, fmt, ap);
    va_end(ap);
}

/* Seconds until the earliest restart of class @c, at least 1; 0 when
 * no slot is backing off. */
static int backoff_left_s(const pm_t *pm, int c)
{
    long long now = now_ms(), best = -1;
    int i;

    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        const pslot_t *ps = &pm->slots[i];

        if (ps->state == FCGIX_SB_BACKOFF && ps->failures > 0
            && (best < 0 || ps->next_start < best)) {
            best = ps->next_start;
        }
    }
    if (best < 0) {
        return 0;
    }
    return best - now > 1000 ? (int)((best - now + 999) / 1000) : 1;
}

static void free_copies(waiter_t *w)
{
    free(w->path);
    free(w->user);
    free(w->group);
    w->path = w->user = w->group = NULL;
}

/* Copy what a START without a class needs to make one later. */
static int keep_copies(waiter_t *w, const char *path, const char *user,
                       const char *group)
{
    w->path = strdup(path);
    w->user = user ? strdup(user) : NULL;
    w->group = group ? strdup(group) : NULL;
    if (w->path == NULL || (user && !w->user) || (group && !w->group)) {
        free_copies(w);
        return -1;
    }
    return 0;
}

/* A START whose app had no class: give it one once a class is free;
 * meanwhile stop an idle process, unless a class is about to be freed
 * already. @return 0 once w->cls is set. */
static int take_class(pm_t *pm, waiter_t *w)
{
    int c = dynamic_class(pm, w->path, w->user, w->group);

    if (c == NO_ROOM) {
        if (!class_going(pm)) {
            evict_idle(pm, -1);
        }
        return -1;
    }
    free_copies(w);
    w->cls = c; /* NO_CLASS too: answered as a failure below */
    return 0;
}

/* Answer a START that found no room, once its wait is over. */
static void answer_no_room(pm_t *pm, const waiter_t *w)
{
    if (w->cls < 0) {
        pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00523), NULL, getpid(),
               "cannot start %s: no room for another dynamic app and no "
               "idle process to stop (-maxProcesses)",
               w->path);
        reply_busy(w->fd, 5, "too many dynamic apps");
        return;
    }
    pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00524), &pm->classes[w->cls],
           getpid(),
           "cannot start: %d dynamic processes run already and none is "
           "idle (-maxProcesses)",
           pm->dyn_live);
    reply_busy(w->fd, 5, "-maxProcesses dynamic processes run already");
}

/* Answer a waiting START if its class can take a request now (or never
 * will soon). @return 1 when answered. */
static int answer_waiter(pm_t *pm, waiter_t *w, long long now)
{
    int left;

    if (w->cls < 0 && take_class(pm, w) != 0) {
        if (now >= w->deadline) {
            answer_no_room(pm, w);
            return 1;
        }
        return 0;
    }
    if (w->cls == NO_CLASS) {
        reply_fail(w->fd, "cannot set up a class for the app");
        return 1;
    }
    start_with_room(pm, w->cls);
    if (class_open_slots(pm, w->cls) > 0) {
        reply_ok(w->fd);
        return 1;
    }
    left = backoff_left_s(pm, w->cls);
    if (left > 1) {
        reply_busy(w->fd, left, "the app is backing off after failed starts");
        return 1;
    }
    if (now >= w->deadline) {
        if (class_slots_used(pm, w->cls) == 0 && pm->classes[w->cls].dynamic) {
            answer_no_room(pm, w);
        }
        else {
            reply_busy(w->fd, 1, "no process became ready in time");
        }
        return 1;
    }
    return 0;
}

static void drop_waiter(pm_t *pm, int i)
{
    free_copies(&pm->waiters[i]);
    pm->waiters[i] = pm->waiters[--pm->nwaiters];
}

static void answer_waiters(pm_t *pm)
{
    long long now = now_ms();
    int i = 0;

    while (i < pm->nwaiters) {
        if (answer_waiter(pm, &pm->waiters[i], now)) {
            drop_waiter(pm, i);
        }
        else {
            i++;
        }
    }
}

/* Answer the START on @fd for class @c (-1: none yet, for @path run as
 * @user/@group) now, or queue it for at most the start wait. */
static void wait_for_class(pm_t *pm, int fd, int c, const char *path,
                           const char *user, const char *group)
{
    waiter_t w;

    memset(&w, 0, sizeof(w));
    w.fd = fd;
    w.cls = c;
    w.deadline =
        now_ms()
        + (pm->cfg->start_wait_ms > 0 ? pm->cfg->start_wait_ms : WAITER_MS);
    if (c < 0 && keep_copies(&w, path, user, group) != 0) {
        reply_busy(fd, 1, "out of memory");
        return;
    }
    if (answer_waiter(pm, &w, now_ms())) {
        free_copies(&w);
        return;
    }
    if (pm->nwaiters == MAX_WAITERS) {
        reply_busy(fd, 1, "too many requests waiting for a start");
        free_copies(&w);
        return;
    }
    pm->waiters[pm->nwaiters++] = w;
}

/* Only executables the httpd user may run become dynamic apps. */
static const char *check_executable(const char *path)
{
    struct stat st;

    if (path[0] != '/') {
        return "not an absolute path";
    }
    if (stat(path, &st) != 0) {
        return strerror(errno);
    }
    if (!S_ISREG(st.st_mode)) {
        return "not a regular file";
    }
    if (access(path, X_OK) != 0) {
        return "not executable by the httpd user";
    }
    return NULL;
}

static void handle_start(pm_t *pm, int fd, const char *path, const char *user,
                         const char *group)
{
    const char *bad;
    int c = find_class(pm, path);

    if (c < 0 || pm->classes[c].dynamic) {
        bad = check_executable(path);
        if (bad) {
            reply_fail(fd, "%s: %s", path, bad);
            return;
        }
    }
    if (c < 0) {
        /* A new app: its class now if one is free, else once the wait
         * has made room (take_class). */
        wait_for_class(pm, fd, -1, path, user, group);
        return;
    }
    /* Every process busy or used up: one more, if the limits allow; an
     * app with none at all gets room made for it (start_with_room). */
    if (class_open_slots(pm, c) == 0 && pm->classes[c].dynamic
        && backoff_left_s(pm, c) == 0 && class_slots_used(pm, c) > 0) {
        grow_class(pm, c);
    }
    wait_for_class(pm, fd, c, path, user, group);
}

/* ------------------------------------------------------------------ */
/* Control clients                                                     */
/* ------------------------------------------------------------------ */

/* Each connection is served from the main loop with a buffer and a
 * deadline of its own, so that no client (an idle one, one that sends
 * half a line, a flood of them) delays a start, a reap or another
 * client. Anyone of the User can connect, so refusals are logged at
 * most once per REFUSAL_LOG_MS and reason, with a count of the others. */
#define REFUSAL_LOG_MS 10000
/* Connections taken per pass: the backlog is 128. */
#define ACCEPT_BATCH 256
/* Out of descriptors: leave the queued connections there this long. */
#define ACCEPT_PAUSE_MS 100
/* read_client(): the client closed or failed before a complete line. */
#define CLIENT_GONE (-1000)

static void note_refusal(pm_t *pm, int why, const char *fmt, ...)
{
    refusal_t *r = &pm->refusals[why];
    long long now = now_ms();
    char msg[400];
    va_list ap;

    if (r->last_ms != 0 && now - r->last_ms < REFUSAL_LOG_MS) {
        r->unlogged++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (r->unlogged > 0) {
        pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00525), NULL, getpid(),
               "control socket: %s (and %lu more like it not logged; "
               "one line per %d s)",
               msg, r->unlogged, REFUSAL_LOG_MS / 1000);
    }
    else {
        pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00526), NULL, getpid(),
               "control socket: %s", msg);
    }
    r->last_ms = now;
    r->unlogged = 0;
}

/* Read what client @c has sent so far. @return the parser's result, or
 * CLIENT_GONE when it closed (or failed) before a complete line. */
static long read_client(client_t *c, fcgix_ctl_request_t *req)
{
    ssize_t n;
    long rc;

    /* The buffer holds the longest line: when it is full, the parser
     * says FCGIX_CTL_ELONG, so recv() is never asked for 0 bytes. */
    do {
        n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
        if (n > 0) {
            c->len += (size_t)n;
        }
        rc = fcgix_ctl_parse_request(c->buf, c->len, req);
    } while (rc == FCGIX_CTL_AGAIN && (n > 0 || (n < 0 && errno == EINTR)));
    if (rc == FCGIX_CTL_AGAIN && (n == 0 || errno != EAGAIN)) {
        return CLIENT_GONE;
    }
    return rc;
}

static void run_request(pm_t *pm, int fd, const fcgix_ctl_request_t *req)
{
    switch (req->verb) {
    case FCGIX_CTL_START:
        handle_start(pm, fd, req->path, NULL, NULL);
        break;
    case FCGIX_CTL_STARTAS:
        handle_start(pm, fd, req->path, req->user, req->group);
        break;
    default:
        close(fd); /* TICK: the maintenance pass follows */
    }
}

/* Client @c may have sent more: act on its line once complete. A line
 * that cannot be parsed gets FAIL with the defect, then the connection
 * is closed; bytes after the line are ignored (one line per
 * connection). */
static void serve_client(pm_t *pm, client_t *c)
{
    fcgix_ctl_request_t req;
    long rc = read_client(c, &req);
    int fd = c->fd;

    if (rc == FCGIX_CTL_AGAIN) {
        return; /* the rest may come before the deadline */
    }
    c->fd = -1; /* it leaves the table either way */
    if (rc == CLIENT_GONE) {
        close(fd);
    }
    else if (rc < 0) {
        note_refusal(pm, REFUSE_BAD,
                     "refused a request from pid %ld (uid %ld): %s", c->pid,
                     c->uid, fcgix_ctl_strerror(rc));
        reply_fail(fd, "malformed request: %s", fcgix_ctl_strerror(rc));
    }
    else {
        run_request(pm, fd, &req);
    }
}

/* A free entry of the client table; when every entry is taken, the
 * oldest client is closed: a flood of idle connections cannot lock out
 * the requests that follow it. (Many arrive within one millisecond, so
 * age is the order of arrival, not the deadline.) */
static client_t *free_client(pm_t *pm)
{
    client_t *oldest = &pm->clients[0];
    int i;

    for (i = 0; i < FCGIX_PM_CONTROL_CLIENTS; i++) {
        client_t *c = &pm->clients[i];

        if (c->fd < 0) {
            return c;
        }
        if (c->seq < oldest->seq) {
            oldest = c;
        }
    }
    note_refusal(pm, REFUSE_FULL,
                 "%d clients have not sent a complete line; closed the "
                 "oldest (pid %ld, uid %ld)",
                 FCGIX_PM_CONTROL_CLIENTS, oldest->pid, oldest->uid);
    close(oldest->fd);
    oldest->fd = -1;
    return oldest;
}

/* Only root (httpd's parent) and our own user (httpd's children) may
 * talk to the PM: the socket's mode says so too, but a mode can be
 * changed, and a wrapped app runs as another user. */
static int allowed_peer(pm_t *pm, int fd, struct ucred *cred)
{
    socklen_t len = sizeof(*cred);

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) != 0
        || len != sizeof(*cred)) {
        cred->pid = 0;
        cred->uid = (uid_t)-1;
        return 0;
    }
    return fcgix_ctl_peer_allowed((unsigned long)cred->uid,
                                  (unsigned long)pm->uid);
}

/* A new connection: checked, entered in the table, and served at once,
 * since its line is usually there already. */
static void admit_client(pm_t *pm, int fd)
{
    struct ucred cred;
    client_t *c;

    if (!allowed_peer(pm, fd, &cred)) {
        note_refusal(pm, REFUSE_STRANGER,
                     "refused a client of uid %ld (pid %ld): only root and "
                     "uid %ld may send requests",
                     (long)cred.uid, (long)cred.pid, (long)pm->uid);
        close(fd);
        return;
    }
    c = free_client(pm);
    c->fd = fd;
    c->pid = (long)cred.pid;
    c->uid = (long)cred.uid;
    c->len = 0;
    c->seq = ++pm->client_seq;
    c->deadline = now_ms() + FCGIX_PM_CONTROL_READ_MS;
    serve_client(pm, c);
}

static void accept_clients(pm_t *pm)
{
    int i, fd;

    for (i = 0; i < ACCEPT_BATCH; i++) {
        fd = accept4(pm->ctl_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd >= 0) {
            admit_client(pm, fd);
            continue;
        }
        if (errno == EMFILE || errno == ENFILE) {
            /* poll() would report the queued connections again at once:
             * leave them queued for a moment instead of spinning. */
            pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00527), NULL, getpid(),
                   "control socket: cannot accept: %s", strerror(errno));
            pm->accept_paused = now_ms() + ACCEPT_PAUSE_MS;
        }
        if (errno != EINTR && errno != ECONNABORTED) {
            return;
        }
    }
}

/* Close the clients whose deadline has passed: they sent nothing, or
 * half a line. @return ms until the next deadline, at most @wait. */
static long long expire_clients(pm_t *pm, long long wait)
{
    long long now = now_ms();
    int i;

    for (i = 0; i < FCGIX_PM_CONTROL_CLIENTS; i++) {
        client_t *c = &pm->clients[i];

        if (c->fd < 0) {
            continue;
        }
        if (c->deadline <= now) {
            note_refusal(pm, REFUSE_LATE,
                         "closed a client (pid %ld, uid %ld) that sent no "
                         "complete line within %d ms (%zu bytes)",
                         c->pid, c->uid, FCGIX_PM_CONTROL_READ_MS, c->len);
            close(c->fd);
            c->fd = -1;
        }
        else if (c->deadline - now < wait) {
            wait = c->deadline - now;
        }
    }
    return wait;
}

static void close_clients(pm_t *pm)
{
    int i;

    for (i = 0; pm->clients && i < FCGIX_PM_CONTROL_CLIENTS; i++) {
        if (pm->clients[i].fd >= 0) {
            close(pm->clients[i].fd);
            pm->clients[i].fd = -1;
        }
    }
}

/* ------------------------------------------------------------------ */
/* The poll set                                                        */
/* ------------------------------------------------------------------ */

/* Entries of the poll set that are not clients; the pipe of slot i is
 * OWNER_APPLOG + i. */
enum {
    OWNER_WAKE = -1,
    OWNER_LISTEN = -2,
    OWNER_APPLOG = FCGIX_PM_CONTROL_CLIENTS
};

static void poll_add(pm_t *pm, int fd, int owner)
{
    pm->pfds[pm->npfds].fd = fd;
    pm->pfds[pm->npfds].events = POLLIN;
    pm->pfds[pm->npfds].revents = 0;
    pm->pfd_owner[pm->npfds++] = owner;
}

/* The wake pipe, the control socket (unless out of descriptors), every
 * client and every process's stderr. */
static void fill_poll_set(pm_t *pm)
{
    int i;

    pm->npfds = 0;
    poll_add(pm, wake_rd, OWNER_WAKE);
    if (pm->ctl_fd >= 0 && now_ms() >= pm->accept_paused) {
        poll_add(pm, pm->ctl_fd, OWNER_LISTEN);
    }
    for (i = 0; i < FCGIX_PM_CONTROL_CLIENTS; i++) {
        if (pm->clients[i].fd >= 0) {
            poll_add(pm, pm->clients[i].fd, i);
        }
    }
    for (i = 0; i < pm->nslots; i++) {
        if (pm->applogs[i].fd >= 0) {
            poll_add(pm, pm->applogs[i].fd, OWNER_APPLOG + i);
        }
    }
}

/* Serve what poll() reported: clients first, then new connections
 * (which may take the entries of clients just served). */
static void serve_poll_set(pm_t *pm)
{
    int k, listen_ready = 0;

    for (k = 0; k < pm->npfds; k++) {
        int owner = pm->pfd_owner[k];

        if (pm->pfds[k].revents == 0) {
            continue;
        }
        if (owner == OWNER_WAKE) {
            drain_wake_pipe();
        }
        else if (owner == OWNER_LISTEN) {
            listen_ready = 1;
        }
        else if (owner >= OWNER_APPLOG) {
            read_stderr(pm, owner - OWNER_APPLOG);
        }
        else if (pm->clients[owner].fd == pm->pfds[k].fd) {
            serve_client(pm, &pm->clients[owner]);
        }
    }
    if (listen_ready) {
        accept_clients(pm);
    }
}

/* ------------------------------------------------------------------ */
/* Main loop and shutdown                                              */
/* ------------------------------------------------------------------ */

static long long maintain(pm_t *pm)
{
    int c;

    reclaim_dead_leases(pm);
    for (c = 0; c < pm->nclasses; c++) {
        if (class_used(pm, c)) {
            maintain_class(pm, c);
        }
    }
    free_unused_classes(pm);
    answer_waiters(pm);
    return start_due(pm);
}

/* Graceful stop: the old configuration's httpd children still finish
 * requests (and may start some) for a moment after the signal, so
 * everything keeps working; a process stops once it has been idle for
 * DRAIN_QUIET_MS, and the PM leaves when none is left and nothing has
 * happened for that long, or at drain_ms. */
#define DRAIN_QUIET_MS 1000

static int live_processes(const pm_t *pm)
{
    int i, live = 0;

    for (i = 0; i < pm->nslots; i++) {
        live += pm->slots[i].state == FCGIX_SB_RUNNING
                || pm->slots[i].state == FCGIX_SB_STOPPING;
    }
    return live;
}

/* The slot's process has had no request for DRAIN_QUIET_MS (counting
 * from the start of the drain at the earliest). */
static int quiet(pm_t *pm, int i, long long drain_start, long long now)
{
    fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);
    long long idle_since = __atomic_load_n(&s->last_used_ms, __ATOMIC_ACQUIRE);

    if (idle_since < s->started_ms) {
        idle_since = s->started_ms;
    }
    if (idle_since < drain_start) {
        idle_since = drain_start;
    }
    return fcgix_sb_users(s) == 0 && now - idle_since >= DRAIN_QUIET_MS;
}

/* Processes sharing a -port socket are stopped together, once none of
 * their slots has a request: any of them may be serving any request. */
static void stop_quiet_shared(pm_t *pm, int c, long long drain_start,
                              long long now)
{
    int i, j;

    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (pm->slots[i].state == FCGIX_SB_RUNNING
            && !quiet(pm, i, drain_start, now)) {
            return;
        }
    }
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (pm->slots[i].state == FCGIX_SB_RUNNING
            && !fcgix_sb_close_if_idle(fcgix_sb_slot(pm->sb, i))) {
            /* A request came: not yet; the slots closed before it open
             * again. */
            for (FCGIX_PM_CLASS_SLOTS(pm, c, j)) {
                if (j == i) {
                    break;
                }
                if (pm->slots[j].state == FCGIX_SB_RUNNING) {
                    fcgix_sb_open(fcgix_sb_slot(pm->sb, j));
                }
            }
            return;
        }
    }
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (pm->slots[i].state == FCGIX_SB_RUNNING) {
            stop_slot(pm, c, i, AFTER_EMPTY, "graceful stop, class idle");
        }
    }
}

static void stop_quiet_processes(pm_t *pm, long long drain_start)
{
    long long now = wall_ms();
    int c, i;

    for (i = 0; i < pm->nslots; i++) {
        if (pm->slots[i].state == FCGIX_SB_BACKOFF) {
            set_state(pm, i, FCGIX_SB_EMPTY, 0); /* no restart now */
            unbind_slot(pm, i);
        }
    }
    for (c = 0; c < pm->nclasses; c++) {
        if (!class_used(pm, c)) {
            continue;
        }
        if (is_shared(&pm->classes[c])) {
            stop_quiet_shared(pm, c, drain_start, now);
            continue;
        }
        for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
            if (pm->slots[i].state == FCGIX_SB_RUNNING
                && quiet(pm, i, drain_start, now)
                && fcgix_sb_close_if_idle(fcgix_sb_slot(pm->sb, i))) {
                stop_slot(pm, c, i, AFTER_EMPTY, "graceful stop, idle");
            }
        }
    }
}

/* While draining: @return 1 when the PM may leave. */
static int drained(pm_t *pm, long long drain_start, long long deadline)
{
    long long now = wall_ms();

    stop_quiet_processes(pm, drain_start);
    if (now >= deadline) {
        pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00528), NULL, getpid(),
               "graceful stop: %d process(es) still busy after %d ms; "
               "stopping them",
               live_processes(pm), pm->cfg->drain_ms);
        return 1;
    }
    return live_processes(pm) == 0 && pm->nwaiters == 0
           && now - drain_start >= DRAIN_QUIET_MS;
}

static void supervise(pm_t *pm)
{
    long long timeout, drain_start = 0, deadline = 0;

    while (!stop_flag) {
        if (graceful_flag && drain_start == 0) {
            drain_start = wall_ms();
            deadline = drain_start + pm->cfg->drain_ms;
            pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00529), NULL, getpid(),
                   "graceful stop: each process stops after %d ms idle, "
                   "within %d ms",
                   DRAIN_QUIET_MS, pm->cfg->drain_ms);
        }
        if (drain_start && drained(pm, drain_start, deadline)) {
            break;
        }
        timeout = maintain(pm);
        if ((pm->nwaiters > 0 || drain_start) && timeout > 50) {
            timeout = 50; /* waiters are answered by the next pass */
        }
        if (pm->accept_paused > now_ms() && timeout > ACCEPT_PAUSE_MS) {
            timeout = ACCEPT_PAUSE_MS;
        }
        timeout = expire_clients(pm, timeout);
        report_windows(pm);
        fill_poll_set(pm);
        if (poll(pm->pfds, (nfds_t)pm->npfds, (int)timeout) > 0) {
            serve_poll_set(pm);
        }
        reap(pm);
        if (getppid() != pm->parent) {
            pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00530), NULL, getpid(),
                   "parent %ld is gone; shutting down", (long)pm->parent);
            break;
        }
    }
}

/* Signal every live process; return how many there are. */
static int signal_all(pm_t *pm, int sig)
{
    int i, live = 0;

    for (i = 0; i < pm->nslots; i++) {
        pslot_t *ps = &pm->slots[i];

        if (ps->state != FCGIX_SB_RUNNING && ps->state != FCGIX_SB_STOPPING) {
            continue;
        }
        if (sig == SIGKILL) {
            pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00531),
                   &pm->classes[class_of_slot(pm, i)], ps->pid,
                   "still running after %d ms; sending SIGKILL",
                   FCGIX_PM_SHUTDOWN_GRACE_MS);
        }
        if (sig != 0) {
            fcgix_sb_close(fcgix_sb_slot(pm->sb, i));
            kill(ps->pid, sig);
            ps->after_stop = AFTER_EMPTY;
            set_state(pm, i, FCGIX_SB_STOPPING, ps->pid);
        }
        live++;
    }
    return live;
}

/* Reap and wait on the wake pipe until @deadline or until no process is
 * left. @return processes left. */
static int wait_processes(pm_t *pm, long long deadline)
{
    struct pollfd pfd;
    long long left;

    pfd.fd = wake_rd;
    pfd.events = POLLIN;
    for (;;) {
        read_all_stderr(pm);
        reap(pm);
        if (signal_all(pm, 0) == 0 || (left = deadline - now_ms()) <= 0) {
            return signal_all(pm, 0);
        }
        if (poll(&pfd, 1, (int)(left < 50 ? left : 50)) > 0) {
            drain_wake_pipe();
        }
    }
}

static void close_control(pm_t *pm)
{
    while (pm->nwaiters > 0) {
        reply_busy(pm->waiters[0].fd, 1, "the process manager is stopping");
        drop_waiter(pm, 0);
    }
    close_clients(pm);
    if (pm->ctl_fd >= 0) {
        close(pm->ctl_fd);
        pm->ctl_fd = -1;
        unlink(pm->cfg->control_path);
    }
}

static void shutdown_all(pm_t *pm)
{
    int live;

    close_control(pm);
    live = signal_all(pm, SIGTERM);
    if (stop_flag) {
        pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00532), NULL, getpid(),
               "%s received; stopping %d process(es)",
               strsignal((int)stop_flag), live);
    }
    if (wait_processes(pm, now_ms() + FCGIX_PM_SHUTDOWN_GRACE_MS) == 0) {
        return;
    }
    signal_all(pm, SIGKILL);
    while (signal_all(pm, 0) > 0) {
        pid_t pid = waitpid(-1, NULL, 0);
        int i;

        if (pid < 0 && errno != EINTR) {
            break; /* ECHILD: nothing left to wait for */
        }
        if (pid > 0 && (i = find_slot(pm, pid)) >= 0) {
            set_state(pm, i, FCGIX_SB_EMPTY, 0);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Setup and teardown                                                  */
/* ------------------------------------------------------------------ */

/* A descriptor we open must not land on 0..2: a child would get our
 * error pipe or socket as stdout. */
static void ensure_stdio(void)
{
    int fd;

    while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2) {
    }
    if (fd > 2) {
        close(fd);
    }
}

static int open_control(pm_t *pm)
{
    const char *what;

    pm->ctl_fd = -1;
    if (pm->cfg->control_path == NULL) {
        return 0;
    }
    if (pm->cfg->control_fd > 2) {
        pm->ctl_fd = pm->cfg->control_fd; /* bound by our parent */
    }
    else {
        pm->ctl_fd = listen_unix(pm->cfg->control_path, 128, &what);
    }
    if (pm->ctl_fd < 0) {
        pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00533), NULL, getpid(),
               "cannot %s %s: %s", what, pm->cfg->control_path,
               strerror(errno));
        return -1;
    }
    fcntl(pm->ctl_fd, F_SETFL, fcntl(pm->ctl_fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

static int open_wake_pipe(void)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) {
        return -1;
    }
    wake_rd = p[0];
    wake_fd = p[1];
    return 0;
}

static void close_wake_pipe(void)
{
    int wr = wake_fd;

    wake_fd = -1;
    close(wr);
    close(wake_rd);
    wake_rd = -1;
}

/* What the processes wrote last, then every pipe closed. */
static void free_applogs(pm_t *pm)
{
    int i;

    for (i = 0; pm->applogs && i < pm->nslots; i++) {
        read_stderr(pm, i);
        close_stderr(pm, &pm->applogs[i]);
        free(pm->applogs[i].line);
    }
    free(pm->applogs);
    pm->applogs = NULL;
}

static void free_pm(pm_t *pm)
{
    int c, i;

    close_control(pm);
    free_applogs(pm); /* its lines name the classes */
    for (i = 0; i < pm->nslots; i++) {
        unbind_slot(pm, i);
        fcgix_sb_close(fcgix_sb_slot(pm->sb, i));
    }
    for (c = 0; c < pm->nclasses; c++) {
        free(pm->classes[c].path);
        free(pm->classes[c].base);
        free(pm->classes[c].dir);
        free(pm->classes[c].user);
        free(pm->classes[c].group);
    }
    free(pm->classes);
    free(pm->slots);
    free(pm->clients);
    free(pm->pfds);
    free(pm->pfd_owner);
}

/* A PM restarted after a crash finds its predecessor's board: its
 * processes died with it, so close every slot and forget every class. */
static void forget_board(fcgix_sb_t *sb)
{
    int i;

    for (i = 0; i < (int)sb->nclasses; i++) {
        __atomic_store_n(&fcgix_sb_class(sb, i)->ready, 0, __ATOMIC_RELEASE);
    }
    for (i = 0; i < (int)sb->nslots; i++) {
        fcgix_sb_slot_t *s = fcgix_sb_slot(sb, i);

        fcgix_sb_close(s);
        s->pid = 0;
        s->state = FCGIX_SB_EMPTY;
    }
}

/* The client table, the stderr pipes of @nslots slots, and the poll
 * set: the wake pipe, the control socket, the clients and the pipes. */
static int init_poll(pm_t *pm, int nslots)
{
    int i, room = 2 + FCGIX_PM_CONTROL_CLIENTS + nslots;

    pm->applogs = calloc((size_t)nslots + 1, sizeof(applog_t));
    for (i = 0; pm->applogs && i <= nslots; i++) {
        pm->applogs[i].fd = -1;
    }
    pm->clients = calloc(FCGIX_PM_CONTROL_CLIENTS, sizeof(client_t));
    pm->pfds = calloc((size_t)room, sizeof(struct pollfd));
    pm->pfd_owner = calloc((size_t)room, sizeof(int));
    if (pm->applogs == NULL || pm->clients == NULL || pm->pfds == NULL
        || pm->pfd_owner == NULL) {
        return -1;
    }
    for (i = 0; i < FCGIX_PM_CONTROL_CLIENTS; i++) {
        pm->clients[i].fd = -1;
    }
    return 0;
}

static int init_pm(pm_t *pm, const fcgix_pm_config_t *cfg)
{
    int nclasses, nslots = fcgix_pm_board_slots(cfg, &nclasses);

    memset(pm, 0, sizeof(*pm));
    pm->cfg = cfg;
    pm->sb = cfg->sb;
    pm->parent = getppid();
    pm->uid = geteuid();
    pm->ctl_fd = -1;
    pm->dyn_classes = dynamic_room(cfg, &pm->dyn_per_class);
    if (cfg->sb == NULL || (int)cfg->sb->nclasses < nclasses
        || (int)cfg->sb->nslots < nslots) {
        return -1;
    }
    pm->classes = calloc((size_t)nclasses + 1, sizeof(pclass_t));
    pm->slots = calloc((size_t)nslots + 1, sizeof(pslot_t));
    if (pm->classes == NULL || pm->slots == NULL
        || init_poll(pm, nslots) != 0) {
        return -1;
    }
    forget_board(cfg->sb);
    cfg->sb->head->pm_pid = (uint32_t)getpid();
    cfg->sb->head->pm_started_ms = wall_ms();
    return 0;
}

int fcgix_pm_run(const fcgix_pm_config_t *cfg)
{
    struct sigaction old[NHANDLED];
    pm_t pm;
    int rc = FCGIX_PM_EXIT_STARTUP;

    if (cfg == NULL || cfg->log == NULL || cfg->napps < 0
        || (cfg->napps == 0 && cfg->control_path == NULL)) {
        return FCGIX_PM_EXIT_STARTUP;
    }
    ensure_stdio();
    if (init_pm(&pm, cfg) != 0) {
        free(pm.classes);
        free(pm.slots);
        free(pm.applogs);
        free(pm.clients);
        free(pm.pfds);
        free(pm.pfd_owner);
        return FCGIX_PM_EXIT_STARTUP;
    }
    if (init_static(&pm) != 0 || open_control(&pm) != 0) {
        goto cleanup;
    }
    stop_flag = graceful_flag = 0;
    if (open_wake_pipe() != 0 || install_signals(old) != 0) {
        pm_log(&pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00534), NULL, getpid(),
               "cannot set up signals: %s", strerror(errno));
        goto cleanup;
    }
    pm_log(&pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00535), NULL, getpid(),
           "started, %d static app(s)%s", cfg->napps,
           cfg->control_path ? ", dynamic apps on demand" : "");
    supervise(&pm);
    shutdown_all(&pm);
    restore_signals(old);
    pm_log(&pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00536), NULL, getpid(),
           "stopped");
    rc = 0;
cleanup:
    if (wake_rd >= 0) {
        close_wake_pipe();
    }
    free_pm(&pm);
    return rc;
}
