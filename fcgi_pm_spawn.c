/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pm_spawn.c
 * @brief Process manager: the slots' sockets (bind, unbind), starting a
 *        process (fork, exec, the child's verdict), slot states, and the
 *        apps' raw stderr pipes (see fcgi_pm_int.h for the other files).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* close_range, prctl, pipe2 */
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fcgi_pm_int.h"

/* What a child writes to the error pipe when it fails before execve. */
typedef struct {
    int stage; /* 0: chdir, 1: execve, 2: parent gone */
    int err;
} spawn_err_t;

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
int fcgix_pm_listen_unix(const char *path, int depth, const char **what)
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

    return fcgix_pm_listen_unix(path, 128, &what);
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
            fcgix_pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00500), cls,
                         getpid(), "cannot listen on %s: %s%s", ps->socket_path,
                         strerror(err),
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
int fcgix_pm_slot_bind(pm_t *pm, int c, int i)
{
    pclass_t *cls = &pm->classes[c];
    pslot_t *ps = &pm->slots[i];
    int depth = cls->cfg.listen_queue_depth > 0 ? cls->cfg.listen_queue_depth
                                                : FCGIX_PM_DEFAULT_LISTEN_QUEUE;
    const char *what;

    if (pm->slots[i].fd >= 0) {
        return 0;
    }
    if (fcgix_pm_class_shared(cls)) {
        return bind_shared(pm, c, i, depth);
    }
    snprintf(ps->socket_path, sizeof(ps->socket_path), "%s.%d", cls->base,
             slot_index_in_class(pm, i, c));
    publish_socket(pm, i);
    ps->fd = fcgix_pm_listen_unix(ps->socket_path, depth, &what);
    if (ps->fd < 0) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00501), cls, getpid(),
                     "cannot %s %s: %s", what, ps->socket_path,
                     strerror(errno));
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

void fcgix_pm_slot_unbind(pm_t *pm, int i)
{
    int c;

    if (pm->slots[i].fd < 0) {
        return;
    }
    c = fcgix_pm_class_of_slot(pm, i);
    if (c >= 0 && fcgix_pm_class_shared(&pm->classes[c])) {
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
        fcgix_pm_log(
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
        fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00503),
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
void fcgix_pm_stderr_close(pm_t *pm, applog_t *a)
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
void fcgix_pm_stderr_read(pm_t *pm, int i)
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
            fcgix_pm_stderr_close(pm, a); /* EOF: every writer is gone */
            return;
        }
        roll_window(pm, a, fcgix_pm_now_ms());
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
        fcgix_pm_stderr_read(pm, i);
        fcgix_pm_stderr_close(pm, a);
    }
    if (a->line == NULL
        && (a->line = malloc(FCGIX_PM_STDERR_LINE_MAX)) == NULL) {
        return -1;
    }
    if (pipe2(p, O_CLOEXEC) != 0) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00504),
                     &pm->classes[c], getpid(),
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
    a->window_start = fcgix_pm_now_ms();
    return p[1];
}

/* Without poll(): during the shutdown, so that no process blocks on a
 * full pipe while it is being stopped. */
void fcgix_pm_stderr_read_all(pm_t *pm)
{
    int i;

    for (i = 0; i < pm->nslots; i++) {
        if (pm->applogs[i].fd >= 0) {
            fcgix_pm_stderr_read(pm, i);
        }
    }
}

/* Windows that ended with bytes dropped: say so now rather than at the
 * process's next write, which may never come. */
void fcgix_pm_stderr_report(pm_t *pm)
{
    long long now = fcgix_pm_now_ms();
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
    const char *const *argv =
        cls->argv ? (const char *const *)cls->argv : cls->cfg.argv;
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

/* The one place where a slot's state changes; the board mirrors it.
 * Callers set after_stop before moving a slot to STOPPING. */
void fcgix_pm_slot_set_state(pm_t *pm, int i, int state, pid_t pid)
{
    fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);
    pslot_t *ps = &pm->slots[i];
    int was = fcgix_pm_slot_live(ps);

    ps->state = state;
    if (state != FCGIX_SB_BACKOFF) {
        ps->verdict_until = 0; /* no verdict waits but in BACKOFF */
    }
    pm->dyn_live += fcgix_pm_slot_live(ps) - was;
    fcgix_pm_tenant_count(pm, ps->cls, fcgix_pm_slot_live(ps) - was);
    ps->pid = pid;
    __atomic_store_n(&s->pid, (int32_t)pid, __ATOMIC_RELEASE);
    __atomic_store_n(&s->state, (uint32_t)state, __ATOMIC_RELEASE);
    if (state == FCGIX_SB_RUNNING) {
        ps->started = fcgix_pm_now_ms();
        ps->exec_failed = 0;
        s->started_ms = fcgix_pm_wall_ms();
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
        fcgix_pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00505), cls, pid,
                     "cannot %s %s: %s", what[e.stage],
                     e.stage == 0 ? cls->dir : cls->exec_path, strerror(e.err));
        return -1;
    }
    return 0;
}

void fcgix_pm_slot_schedule(pm_t *pm, int i, long delay)
{
    fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);

    pm->slots[i].next_start = fcgix_pm_now_ms() + delay;
    s->backoff_until_ms = fcgix_pm_wall_ms() + delay;
    fcgix_pm_slot_set_state(pm, i, FCGIX_SB_BACKOFF, 0);
}

static int port_still_held(const pclass_t *cls, pslot_t *ps, int err)
{
    if (!fcgix_pm_class_shared(cls) || err != EADDRINUSE
        || ps->port_waits >= PORT_RETRIES) {
        return 0;
    }
    ps->port_waits++;
    return 1;
}

/* A start failed: back off, longer each time in a row. */
static void start_failed(pm_t *pm, const pclass_t *cls, int i)
{
    pslot_t *ps = &pm->slots[i];

    ps->failures++;
    fcgix_pm_slot_schedule(
        pm, i, fcgix_pm_backoff_ms(cls->cfg.restart_delay_ms, ps->failures));
}

/* Fork the process of slot @i; the child execs (exec_child()). The
 * write ends of the error pipe and of the stderr pipe (@err_w, -1: none)
 * are closed here in the PM. @return the pid, or -1 with errno. */
static pid_t fork_app(pm_t *pm, const pclass_t *cls, int i, int errpipe[2],
                      int err_w)
{
    sigset_t all, old;
    pid_t pid, self = getpid();

    /* Block signals so that the child cannot run our handlers before it
     * has reset them. */
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old);
    pid = fork();
    if (pid == 0) {
        close(errpipe[0]);
        exec_child(cls, pm->slots[i].fd, self, errpipe[1], err_w);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(errpipe[1]);
    if (err_w >= 0) {
        close(err_w);
    }
    return pid;
}

/* The process @pid of slot @i runs; it takes requests once its verdict
 * (read from @verdict_rd) says it was executed. */
static void spawned(pm_t *pm, const pclass_t *cls, int i, pid_t pid,
                    int verdict_rd)
{
    pslot_t *ps = &pm->slots[i];
    fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);

    if (ps->ever_started) {
        s->restarts++;
    }
    ps->ever_started = 1;
    ps->port_waits = 0;
    fcgix_pm_slot_set_state(pm, i, FCGIX_SB_RUNNING, pid);
    ps->update_pending = 0;
    __atomic_store_n(&s->retiring, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&s->hung, 0, __ATOMIC_RELEASE);
    /* The process before may have answered; this one has not (opening
     * the slot clears it too, but a process that cannot be executed
     * never opens it, and would be taken for one that served). */
    __atomic_store_n(&s->answered, 0, __ATOMIC_RELEASE);
    if (read_verdict(pm, cls, pid, verdict_rd) != 0) {
        ps->exec_failed = 1; /* it exits at once; reap() backs off */
    }
    else {
        fcgix_sb_open(s);
        if (cls->exec_path != cls->path) { /* run as another user */
            fcgix_pm_signal_watch(pm->cfg, pid);
        }
        if (cls->exclusive) { /* a request waiting for a process: go */
            fcgix_sb_class_note_freed(pm->sb, fcgix_pm_class_of_slot(pm, i));
        }
        fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00507), cls, pid,
                     "started on %s", ps->socket_path);
    }
}

/* Start the process of slot @i of class @c; on success the slot takes
 * requests. */
void fcgix_pm_spawn(pm_t *pm, int c, int i)
{
    pclass_t *cls = &pm->classes[c];
    pslot_t *ps = &pm->slots[i];
    int errpipe[2], err_w;
    pid_t pid;

    if (fcgix_pm_slot_bind(pm, c, i) != 0 || pipe2(errpipe, O_CLOEXEC) != 0) {
        if (port_still_held(cls, ps, errno)) {
            fcgix_pm_slot_schedule(pm, i, PORT_RETRY_MS);
            return;
        }
        start_failed(pm, cls, i);
        return;
    }
    err_w = open_stderr(pm, c, i);
    pid = fork_app(pm, cls, i, errpipe, err_w);
    pm->applogs[i].pid = pid;
    if (pid < 0) {
        fcgix_pm_stderr_close(pm, &pm->applogs[i]);
        fcgix_pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00506), cls, getpid(),
                     "fork: %s", strerror(errno));
        start_failed(pm, cls, i);
        close(errpipe[0]);
        return;
    }
    spawned(pm, cls, i, pid, errpipe[0]);
    close(errpipe[0]);
}
