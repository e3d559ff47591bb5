/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pm.c
 * @brief Process manager core: sockets, spawning, supervision, shutdown.
 *
 * Scope: static pools only. State is a fixed array of process slots per
 * application, allocated at start and owned by this file; a slot changes
 * state only through set_state(). Signal handlers only set flags and wake
 * the loop through a self-pipe.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* close_range, prctl, pipe2 */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fcgi_pm.h"

/* Slot states. WAITING: not running, next start at next_start. */
enum { SLOT_WAITING = 0, SLOT_RUNNING, SLOT_STOPPING };

#define TICK_MS 1000

typedef struct {
    pid_t pid;
    int state;
    long long started;    /* ms, monotonic */
    long long next_start; /* ms, monotonic; SLOT_WAITING only */
    int failures;         /* consecutive failed starts */
    int exec_failed;      /* the child reported a failure before exec */
} slot_t;

typedef struct {
    const fcgix_pm_app_t *cfg;
    int fd; /* listening socket, -1 when not bound */
    char *dir;
    const char *argv0[2]; /* used when cfg->argv is NULL */
    slot_t *slots;
    int nslots;
    long min_life;
} app_t;

typedef struct {
    app_t *apps;
    int napps;
    fcgix_pm_log_fn *log;
    void *baton;
    pid_t parent;
} pm_t;

/* What a child writes to the error pipe when it fails before execve. */
typedef struct {
    int stage; /* 0: chdir, 1: execve, 2: parent gone */
    int err;
} spawn_err_t;

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t wake_fd = -1;
static int wake_rd = -1;

static const int handled_signals[] = {SIGTERM, SIGHUP, SIGINT, SIGCHLD};
#define NHANDLED (int)(sizeof(handled_signals) / sizeof(handled_signals[0]))

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pm_log(const pm_t *pm, int level, const app_t *app, pid_t pid,
                   const char *fmt, ...)
{
    char msg[512], line[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (app) {
        snprintf(line, sizeof(line), "fastcgi pm: app %s (pid %ld): %s",
                 app->cfg->path, (long)pid, msg);
    }
    else {
        snprintf(line, sizeof(line), "fastcgi pm (pid %ld): %s", (long)pid,
                 msg);
    }
    pm->log(pm->baton, level, line);
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
    for (i = 0; i < failures && delay < FCGIX_PM_MAX_BACKOFF_MS; i++) {
        delay *= 2;
    }
    return delay < FCGIX_PM_MAX_BACKOFF_MS ? delay : FCGIX_PM_MAX_BACKOFF_MS;
}

/* ------------------------------------------------------------------ */
/* Signals                                                             */
/* ------------------------------------------------------------------ */

static void on_signal(int sig)
{
    int saved = errno;
    char c = 0;

    if (sig != SIGCHLD) {
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

static int bind_app(const pm_t *pm, app_t *app)
{
    struct sockaddr_un sa;
    const char *path = app->cfg->socket_path;
    int depth = app->cfg->listen_queue_depth;
    mode_t old_mask;
    int fd, rc;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        pm_log(pm, FCGIX_PM_LOG_ERR, app, getpid(),
               "socket path too long (max %zu): %s", sizeof(sa.sun_path) - 1,
               path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    if (remove_stale(path) != 0) {
        pm_log(pm, FCGIX_PM_LOG_ERR, app, getpid(),
               "cannot remove stale socket %s: %s", path, strerror(errno));
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        pm_log(pm, FCGIX_PM_LOG_ERR, app, getpid(), "socket: %s",
               strerror(errno));
        return -1;
    }
    old_mask = umask(0077); /* socket file 0600: only our user connects */
    rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old_mask);
    if (rc != 0
        || listen(fd, depth > 0 ? depth : FCGIX_PM_DEFAULT_LISTEN_QUEUE)) {
        pm_log(pm, FCGIX_PM_LOG_ERR, app, getpid(), "cannot %s %s: %s",
               rc != 0 ? "bind" : "listen on", path, strerror(errno));
        close(fd);
        return -1;
    }
    app->fd = fd;
    return 0;
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
static void exec_child(const app_t *app, pid_t pm_pid, int errfd)
{
    const char *const *argv = app->cfg->argv ? app->cfg->argv : app->argv0;
    static const char *const empty_env[] = {NULL};
    const char *const *env = app->cfg->env ? app->cfg->env : empty_env;

    reset_signals();
    /* The app must not outlive the PM; check getppid() afterwards in case
     * the PM died before prctl() took effect. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != pm_pid) {
        child_fail(errfd, 2, ESRCH);
    }
    if (dup2(app->fd, 0) != 0) { /* FCGI_LISTENSOCK_FILENO */
        child_fail(errfd, 1, errno);
    }
    close_other_fds(errfd);
    if (chdir(app->dir) != 0) {
        child_fail(errfd, 0, errno);
    }
    execve(app->cfg->path, (char *const *)argv, (char *const *)env);
    child_fail(errfd, 1, errno);
}

static void set_state(slot_t *s, int state, pid_t pid, long long next)
{
    s->state = state;
    s->pid = pid;
    if (state == SLOT_RUNNING) {
        s->started = now_ms();
        s->exec_failed = 0;
    }
    else if (state == SLOT_WAITING) {
        s->next_start = next;
    }
}

/* Read the child's verdict: EOF means execve succeeded (the pipe end is
 * close-on-exec), a record means it failed before. */
static void read_verdict(const pm_t *pm, const app_t *app, slot_t *s, int rd)
{
    static const char *const what[] = {"chdir to", "exec", "start"};
    spawn_err_t e;
    ssize_t n;

    do {
        n = read(rd, &e, sizeof(e));
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(e) && e.stage >= 0 && e.stage <= 2) {
        s->exec_failed = 1;
        pm_log(pm, FCGIX_PM_LOG_ERR, app, s->pid, "cannot %s %s: %s",
               what[e.stage], e.stage == 0 ? app->dir : app->cfg->path,
               strerror(e.err));
    }
    else {
        pm_log(pm, FCGIX_PM_LOG_INFO, app, s->pid, "started");
    }
}

static void spawn(const pm_t *pm, app_t *app, slot_t *s)
{
    sigset_t all, old;
    int errpipe[2];
    pid_t pid, self = getpid();

    if (pipe2(errpipe, O_CLOEXEC) != 0) {
        pm_log(pm, FCGIX_PM_LOG_ERR, app, getpid(), "pipe: %s",
               strerror(errno));
        set_state(s, SLOT_WAITING, 0, now_ms() + FCGIX_PM_MIN_BACKOFF_MS);
        return;
    }
    /* Block signals so that the child cannot run our handlers before it
     * has reset them. */
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid = fork();
    if (pid == 0) {
        close(errpipe[0]);
        exec_child(app, self, errpipe[1]);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(errpipe[1]);
    if (pid < 0) {
        pm_log(pm, FCGIX_PM_LOG_ERR, app, getpid(), "fork: %s",
               strerror(errno));
        s->failures++;
        set_state(
            s, SLOT_WAITING, 0,
            now_ms()
                + fcgix_pm_backoff_ms(app->cfg->restart_delay_ms, s->failures));
    }
    else {
        set_state(s, SLOT_RUNNING, pid, 0);
        read_verdict(pm, app, s, errpipe[0]);
    }
    close(errpipe[0]);
}

/* ------------------------------------------------------------------ */
/* Supervision                                                         */
/* ------------------------------------------------------------------ */

static slot_t *find_slot(const pm_t *pm, pid_t pid, app_t **appp)
{
    int i, j;

    for (i = 0; i < pm->napps; i++) {
        for (j = 0; j < pm->apps[i].nslots; j++) {
            if (pm->apps[i].slots[j].pid == pid
                && pm->apps[i].slots[j].state != SLOT_WAITING) {
                *appp = &pm->apps[i];
                return &pm->apps[i].slots[j];
            }
        }
    }
    return NULL;
}

static void log_exit(const pm_t *pm, const app_t *app, pid_t pid, int st)
{
    if (WIFEXITED(st)) {
        pm_log(pm, FCGIX_PM_LOG_WARN, app, pid, "exited with status %d",
               WEXITSTATUS(st));
    }
    else if (WIFSIGNALED(st)) {
        pm_log(pm, FCGIX_PM_LOG_WARN, app, pid, "died of signal %d (%s)%s",
               WTERMSIG(st), strsignal(WTERMSIG(st)),
               WCOREDUMP(st) ? ", core dumped" : "");
    }
}

/* A process of a running PM ended: decide when its slot starts again. */
static void schedule_restart(const pm_t *pm, app_t *app, slot_t *s, pid_t pid)
{
    long long lived = now_ms() - s->started;
    int failed = s->exec_failed || lived < app->min_life;
    long delay;

    s->failures = failed ? s->failures + 1 : 0;
    delay = fcgix_pm_backoff_ms(app->cfg->restart_delay_ms, s->failures);
    if (failed) {
        pm_log(pm, FCGIX_PM_LOG_WARN, app, pid,
               "exited after %lld ms, %d%s failure in a row; "
               "next start in %ld ms",
               lived, s->failures, ordinal(s->failures), delay);
    }
    else {
        pm_log(pm, FCGIX_PM_LOG_INFO, app, pid,
               "lived %lld ms; restarting in %ld ms", lived, delay);
    }
    set_state(s, SLOT_WAITING, 0, now_ms() + delay);
}

static void reap(const pm_t *pm)
{
    app_t *app;
    slot_t *s;
    pid_t pid;
    int st;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        s = find_slot(pm, pid, &app);
        if (s == NULL) {
            continue; /* not ours (the caller's own children) */
        }
        if (s->state == SLOT_STOPPING) {
            set_state(s, SLOT_WAITING, 0, 0); /* we sent the signal */
            continue;
        }
        log_exit(pm, app, pid, st);
        schedule_restart(pm, app, s, pid);
    }
}

/* Start every slot that is due; return ms until the next due start
 * (capped at the tick). */
static int start_due(const pm_t *pm)
{
    long long now = now_ms(), wait = TICK_MS;
    int i, j;

    for (i = 0; i < pm->napps; i++) {
        app_t *app = &pm->apps[i];

        for (j = 0; j < app->nslots; j++) {
            slot_t *s = &app->slots[j];

            if (s->state != SLOT_WAITING) {
                continue;
            }
            if (s->next_start <= now) {
                spawn(pm, app, s);
                now = now_ms();
            }
            if (s->state == SLOT_WAITING && s->next_start - now < wait) {
                wait = s->next_start > now ? s->next_start - now : 0;
            }
        }
    }
    return (int)wait;
}

static void supervise(const pm_t *pm)
{
    struct pollfd pfd;
    int timeout;

    pfd.fd = wake_rd;
    pfd.events = POLLIN;
    while (!stop_flag) {
        timeout = start_due(pm);
        if (stop_flag) {
            break;
        }
        if (poll(&pfd, 1, timeout) > 0) {
            drain_wake_pipe();
        }
        reap(pm);
        if (getppid() != pm->parent) {
            pm_log(pm, FCGIX_PM_LOG_WARN, NULL, getpid(),
                   "parent %ld is gone; shutting down", (long)pm->parent);
            break;
        }
    }
}

/* ------------------------------------------------------------------ */
/* Shutdown                                                            */
/* ------------------------------------------------------------------ */

/* Signal every live process; return how many there are. */
static int signal_all(const pm_t *pm, int sig)
{
    int i, j, live = 0;

    for (i = 0; i < pm->napps; i++) {
        for (j = 0; j < pm->apps[i].nslots; j++) {
            slot_t *s = &pm->apps[i].slots[j];

            if (s->state == SLOT_WAITING) {
                continue;
            }
            if (sig == SIGKILL) {
                pm_log(pm, FCGIX_PM_LOG_WARN, &pm->apps[i], s->pid,
                       "still running after %d ms; sending SIGKILL",
                       FCGIX_PM_SHUTDOWN_GRACE_MS);
            }
            kill(s->pid, sig);
            s->state = SLOT_STOPPING;
            live++;
        }
    }
    return live;
}

static void shutdown_all(const pm_t *pm)
{
    long long deadline = now_ms() + FCGIX_PM_SHUTDOWN_GRACE_MS;
    struct pollfd pfd;
    long long left;
    int live;

    pfd.fd = wake_rd;
    pfd.events = POLLIN;
    live = signal_all(pm, SIGTERM);
    if (stop_flag) {
        pm_log(pm, FCGIX_PM_LOG_INFO, NULL, getpid(),
               "%s received; stopping %d process(es)",
               strsignal((int)stop_flag), live);
    }
    if (live == 0) {
        return;
    }
    while ((left = deadline - now_ms()) > 0) {
        reap(pm);
        if (signal_all(pm, 0) == 0) {
            return;
        }
        if (poll(&pfd, 1, (int)(left < 50 ? left : 50)) > 0) {
            drain_wake_pipe();
        }
    }
    signal_all(pm, SIGKILL);
    while (signal_all(pm, 0) > 0) {
        pid_t pid = waitpid(-1, NULL, 0);
        app_t *app;
        slot_t *s;

        if (pid < 0 && errno != EINTR) {
            break; /* ECHILD: nothing left to wait for */
        }
        if (pid > 0 && (s = find_slot(pm, pid, &app)) != NULL) {
            set_state(s, SLOT_WAITING, 0, 0);
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

static int init_app(const pm_t *pm, app_t *app, const fcgix_pm_app_t *cfg)
{
    const char *slash;

    memset(app, 0, sizeof(*app));
    app->cfg = cfg;
    app->fd = -1;
    if (cfg->path == NULL || cfg->socket_path == NULL) {
        return -1;
    }
    app->argv0[0] = cfg->path;
    app->nslots = cfg->processes > 0 ? cfg->processes : 1;
    app->min_life = cfg->min_server_life_ms > 0 ? cfg->min_server_life_ms
                                                : FCGIX_PM_DEFAULT_MIN_LIFE_MS;
    slash = strrchr(cfg->path, '/');
    if (cfg->dir) {
        app->dir = strdup(cfg->dir);
    }
    else if (slash) {
        app->dir = strndup(
            cfg->path, slash == cfg->path ? 1 : (size_t)(slash - cfg->path));
    }
    else {
        app->dir = strdup(".");
    }
    app->slots = calloc((size_t)app->nslots, sizeof(slot_t));
    if (app->dir == NULL || app->slots == NULL) {
        return -1;
    }
    return bind_app(pm, app);
}

static void free_apps(pm_t *pm)
{
    int i;

    for (i = 0; i < pm->napps; i++) {
        app_t *app = &pm->apps[i];

        if (app->fd >= 0) {
            close(app->fd);
            unlink(app->cfg->socket_path);
        }
        free(app->dir);
        free(app->slots);
    }
    free(pm->apps);
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

int fcgix_pm_run(const fcgix_pm_app_t *apps, int napps, fcgix_pm_log_fn *log,
                 void *baton)
{
    struct sigaction old[NHANDLED];
    pm_t pm;
    int i, rc = FCGIX_PM_EXIT_STARTUP;

    memset(&pm, 0, sizeof(pm));
    pm.log = log;
    pm.baton = baton;
    pm.parent = getppid();
    if (log == NULL || napps <= 0 || apps == NULL) {
        return FCGIX_PM_EXIT_STARTUP;
    }
    ensure_stdio();
    pm.apps = calloc((size_t)napps, sizeof(app_t));
    if (pm.apps == NULL) {
        return FCGIX_PM_EXIT_STARTUP;
    }
    for (pm.napps = 0; pm.napps < napps; pm.napps++) {
        if (init_app(&pm, &pm.apps[pm.napps], &apps[pm.napps]) != 0) {
            pm.napps++;
            goto cleanup;
        }
    }
    stop_flag = 0;
    if (open_wake_pipe() != 0 || install_signals(old) != 0) {
        pm_log(&pm, FCGIX_PM_LOG_ERR, NULL, getpid(),
               "cannot set up signals: %s", strerror(errno));
        goto cleanup;
    }
    pm_log(&pm, FCGIX_PM_LOG_INFO, NULL, getpid(), "started, %d app(s)", napps);
    supervise(&pm);
    shutdown_all(&pm);
    restore_signals(old);
    for (i = 0; i < pm.napps; i++) {
        pm_log(&pm, FCGIX_PM_LOG_DEBUG, &pm.apps[i], getpid(),
               "removing socket %s", pm.apps[i].cfg->socket_path);
    }
    pm_log(&pm, FCGIX_PM_LOG_INFO, NULL, getpid(), "stopped");
    rc = 0;
cleanup:
    if (wake_rd >= 0) {
        close_wake_pipe();
    }
    free_apps(&pm);
    return rc;
}
