/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  test_pm.c
 * @brief Process manager tests without httpd: each test forks
 *        fcgix_pm_run() (with an alarm() watchdog) and watches it from
 *        outside through /proc, the log file and the socket.
 *
 * The test process is a child subreaper, so that processes orphaned by a
 * test come back to it and can be reaped; teardown kills everything a test
 * started, by pid, even when an assertion failed.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
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
#include "fcgi_proto.h"

#ifndef RESPONDER /* override with -DRESPONDER=\"path\" */
#define RESPONDER "/work/main/build/fcgi_responder"
#endif
#define MAXPIDS 64

typedef struct {
    char dir[64];
    char base[96]; /* slot i listens on "<base>.<i>" */
    char sock[128]; /* slot 0's socket */
    char log[128];
    pid_t pm;       /* the PM (our child, or our grandchild in test 6) */
    pid_t mid;      /* the intermediate parent of test 6 */
    pid_t seen[MAXPIDS]; /* instances recorded by the test */
    int nseen;
    const char *const *argv; /* NULL: the PM's default */
} fixture_t;

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------------ */
/* /proc helpers                                                       */
/* ------------------------------------------------------------------ */

/* State letter and ppid of a process; 0 when it does not exist. */
static char proc_stat(pid_t pid, pid_t *ppid)
{
    char path[64], buf[512], *p;
    char state = 0;
    long pp = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }
    if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) != NULL
        && sscanf(p + 1, " %c %ld", &state, &pp) != 2) {
        state = 0;
    }
    fclose(f);
    if (ppid) {
        *ppid = (pid_t)pp;
    }
    return state;
}

static int gone(pid_t pid)
{
    char st = proc_stat(pid, NULL);

    return st == 0 || st == 'Z';
}

/* Live (non-zombie) children of @p parent. */
static int children_of(pid_t parent, pid_t *out, int max)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        pid_t pid = (pid_t)atol(e->d_name), pp;
        char st;

        if (pid <= 0) {
            continue;
        }
        st = proc_stat(pid, &pp);
        if (st != 0 && st != 'Z' && pp == parent) {
            if (out && n < max) {
                out[n] = pid;
            }
            n++;
        }
    }
    closedir(d);
    return n;
}

/* Wait (bounded) until @p parent has exactly @p n live children. */
static int wait_children(pid_t parent, int n, long timeout_ms)
{
    long long end = now_ms() + timeout_ms;

    while (now_ms() < end) {
        if (children_of(parent, NULL, 0) == n) {
            return 1;
        }
        sleep_ms(20);
    }
    return 0;
}

static void remember(fixture_t *fx, const pid_t *pids, int n)
{
    int i;

    for (i = 0; i < n && fx->nseen < MAXPIDS; i++) {
        fx->seen[fx->nseen++] = pids[i];
    }
}

/* Wait until @p pid runs the program named @p comm. */
static int wait_comm(pid_t pid, const char *comm, long timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    char path[64], buf[64], want[64];

    snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
    snprintf(want, sizeof(want), "%s\n", comm);
    while (now_ms() < end) {
        FILE *f = fopen(path, "r");
        int ok = f && fgets(buf, sizeof(buf), f) && strcmp(buf, want) == 0;

        if (f) {
            fclose(f);
        }
        if (ok) {
            return 1;
        }
        sleep_ms(10);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The PM under test                                                   */
/* ------------------------------------------------------------------ */

static void log_to_fd(void *baton, int level, const char *msg)
{
    dprintf(*(int *)baton, "%d %s\n", level, msg);
}

/* Run the PM for one static app on a private board. */
static int run_one(const fcgix_pm_app_t *app, int *logfd)
{
    fcgix_pm_config_t cfg;
    int nclasses, nslots;
    void *mem;

    memset(&cfg, 0, sizeof(cfg));
    cfg.apps = app;
    cfg.napps = 1;
    cfg.log = log_to_fd;
    cfg.baton = logfd;
    nslots = fcgix_pm_board_slots(&cfg, &nclasses);
    mem = calloc(1, fcgix_sb_size(nclasses, nslots));
    cfg.sb = fcgix_sb_init(mem, nclasses, nslots);
    return fcgix_pm_run(&cfg);
}

/* In the forked child: run the PM, never return. */
static void run_pm(const fixture_t *fx, const char *path, const char *dir,
                   int procs, int restart_ms, int min_life_ms)
{
    static const char *const env[] = { "FCGIX_TEST=1", NULL };
    fcgix_pm_app_t app;
    int fd;

    alarm(30); /* watchdog: a hung PM must not outlive the test run */
    fd = open(fx->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    memset(&app, 0, sizeof(app));
    app.path = path;
    app.socket_base = fx->base;
    app.processes = procs;
    app.listen_queue_depth = 16;
    app.env = env;
    app.argv = fx->argv;
    app.dir = dir;
    app.restart_delay_ms = restart_ms;
    app.min_server_life_ms = min_life_ms;
    _exit(run_one(&app, &fd));
}

static pid_t start_pm(fixture_t *fx, const char *path, const char *dir,
                      int procs, int restart_ms, int min_life_ms)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        run_pm(fx, path, dir, procs, restart_ms, min_life_ms);
    }
    fx->pm = pid;
    return pid;
}

/* Bounded wait for our child @p pid; returns its status or -1. */
static int wait_exit(pid_t pid, long timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    int st;

    while (now_ms() < end) {
        pid_t r = waitpid(pid, &st, WNOHANG);

        if (r == pid) {
            return st;
        }
        if (r < 0) {
            return -1;
        }
        sleep_ms(10);
    }
    return -1;
}

/* Count lines of the PM log containing @p needle. */
static int log_count(const fixture_t *fx, const char *needle)
{
    char line[1024];
    int n = 0;
    FILE *f = fopen(fx->log, "r");

    if (f == NULL) {
        return 0;
    }
    while (fgets(line, sizeof(line), f)) {
        if (strstr(line, needle)) {
            n++;
        }
    }
    fclose(f);
    return n;
}

static void dump_log(const fixture_t *fx)
{
    char line[1024];
    FILE *f = fopen(fx->log, "r");

    while (f && fgets(line, sizeof(line), f)) {
        fprintf(stderr, "  log: %s", line);
    }
    if (f) {
        fclose(f);
    }
}

/* ------------------------------------------------------------------ */
/* Fixture                                                             */
/* ------------------------------------------------------------------ */

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    if (fx == NULL) {
        return -1;
    }
    strcpy(fx->dir, "/tmp/pmtest.XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    snprintf(fx->base, sizeof(fx->base), "%s/app", fx->dir);
    snprintf(fx->sock, sizeof(fx->sock), "%s.0", fx->base);
    snprintf(fx->log, sizeof(fx->log), "%s/pm.log", fx->dir);
    *state = fx;
    return 0;
}

/* Kill everything the test started, by pid, then reap what comes back to
 * us (we are a subreaper), bounded. */
static int teardown(void **state)
{
    fixture_t *fx = *state;
    pid_t kids[MAXPIDS];
    long long end;
    int i, n = 0;

    if (fx->mid > 0) {
        kill(fx->mid, SIGKILL);
    }
    if (fx->pm > 0) {
        n = children_of(fx->pm, kids, MAXPIDS);
        kill(fx->pm, SIGKILL);
    }
    for (i = 0; i < n && i < MAXPIDS; i++) {
        kill(kids[i], SIGKILL);
    }
    for (i = 0; i < fx->nseen; i++) {
        if (!gone(fx->seen[i])) {
            kill(fx->seen[i], SIGKILL);
        }
    }
    end = now_ms() + 3000;
    while (now_ms() < end && waitpid(-1, NULL, WNOHANG) >= 0) {
        sleep_ms(5);
    }
    if (getenv("PM_TEST_VERBOSE")) {
        dump_log(fx);
    }
    for (i = 0; i < 8; i++) {
        char sock[160];

        snprintf(sock, sizeof(sock), "%s.%d", fx->base, i);
        unlink(sock);
    }
    unlink(fx->log);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* ------------------------------------------------------------------ */
/* A FastCGI request through the shared socket                         */
/* ------------------------------------------------------------------ */

static size_t build_request(unsigned char *buf, size_t cap)
{
    static const char *const nv[][2] = {
        { "REQUEST_METHOD", "GET" }, { "SCRIPT_NAME", "/hello" },
        { "QUERY_STRING", "" }, { "SERVER_PROTOCOL", "HTTP/1.1" }
    };
    unsigned char params[512];
    size_t plen = 0, off = FCGIX_BEGIN_REQUEST_LEN, i;
    long n;

    fcgix_rec_begin_request(buf, 1, FCGIX_RESPONDER, 0);
    for (i = 0; i < sizeof(nv) / sizeof(nv[0]); i++) {
        plen += fcgix_nv_put(params + plen, sizeof(params) - plen, nv[i][0],
                             strlen(nv[i][0]), nv[i][1], strlen(nv[i][1]));
    }
    n = fcgix_stream_record(buf + off, cap - off, FCGIX_PARAMS, 1, params,
                            plen, 1);
    assert_true(n > 0);
    off += (size_t)n;
    n = fcgix_stream_record(buf + off, cap - off, FCGIX_PARAMS, 1, NULL, 0, 1);
    assert_true(n > 0);
    off += (size_t)n;
    n = fcgix_stream_record(buf + off, cap - off, FCGIX_STDIN, 1, NULL, 0, 1);
    assert_true(n > 0);
    return off + (size_t)n;
}

static int connect_unix(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Feed @p len bytes to the decoder; return 1 on END_REQUEST. */
static int decode(fcgix_dec_t *d, const unsigned char *in, size_t len,
                  char *out, size_t *olen, size_t ocap)
{
    fcgix_event_t ev;
    size_t used;
    int rc;

    while (len > 0) {
        rc = fcgix_dec_step(d, in, len, &used, &ev);
        in += used;
        len -= used;
        if (rc == FCGIX_AGAIN) {
            break;
        }
        assert_int_equal(rc, FCGIX_OK);
        if (ev.type == FCGIX_STDOUT && *olen + ev.len < ocap) {
            memcpy(out + *olen, ev.data, ev.len);
            *olen += ev.len;
        }
        if (ev.type == FCGIX_END_REQUEST) {
            return 1;
        }
    }
    return 0;
}

static void fcgi_get(const char *sock, char *out, size_t ocap)
{
    unsigned char req[1024], in[4096];
    long long end = now_ms() + 5000;
    struct pollfd pfd;
    fcgix_dec_t dec;
    size_t len = build_request(req, sizeof(req)), olen = 0;
    int fd = connect_unix(sock), done = 0;
    ssize_t n;

    assert_int_equal(write(fd, req, len), (ssize_t)len);
    fcgix_dec_init(&dec, 1);
    pfd.fd = fd;
    pfd.events = POLLIN;
    while (!done && now_ms() < end) {
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        n = read(fd, in, sizeof(in));
        assert_true(n > 0);
        done = decode(&dec, in, (size_t)n, out, &olen, ocap - 1);
    }
    close(fd);
    out[olen] = '\0';
    assert_true(done);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void test_pool_serves_request(void **state)
{
    fixture_t *fx = *state;
    pid_t kids[8];
    char body[4096];
    struct stat st;
    int i;

    start_pm(fx, RESPONDER, NULL, 3, 100, 0);
    assert_true(wait_children(fx->pm, 3, 5000));
    assert_int_equal(children_of(fx->pm, kids, 8), 3);
    remember(fx, kids, 3);
    for (i = 0; i < 3; i++) {
        assert_true(wait_comm(kids[i], "fcgi_responder", 3000));
    }
    assert_int_equal(stat(fx->sock, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0077, 0); /* umask 0077 at bind */
    for (i = 0; i < 3; i++) { /* each process has its own socket */
        char sock[160];

        snprintf(sock, sizeof(sock), "%s.%d", fx->base, i);
        fcgi_get(sock, body, sizeof(body));
        assert_non_null(strstr(body, "hello"));
    }
}

static void test_kill9_respawns(void **state)
{
    fixture_t *fx = *state;
    pid_t kids[8], after[8];
    char needle[64];
    long long end;
    int i, back = 0;

    start_pm(fx, RESPONDER, NULL, 3, 100, 0);
    assert_true(wait_children(fx->pm, 3, 5000));
    children_of(fx->pm, kids, 8);
    remember(fx, kids, 3);
    assert_int_equal(kill(kids[0], SIGKILL), 0);
    end = now_ms() + 3000;
    while (!back && now_ms() < end) {
        sleep_ms(20);
        if (children_of(fx->pm, after, 8) == 3) {
            back = 1;
            for (i = 0; i < 3; i++) {
                back = back && after[i] != kids[0];
            }
        }
    }
    remember(fx, after, 3);
    assert_true(back);
    snprintf(needle, sizeof(needle), "(pid %ld): died of signal 9",
             (long)kids[0]);
    assert_int_equal(log_count(fx, needle), 1);
}

/* Start an app that cannot run, let the PM supervise it for 3 s, stop
 * it, and return how many times @p needle was logged. */
static int run_failing(fixture_t *fx, const char *path, const char *dir,
                       const char *needle)
{
    int st;

    start_pm(fx, path, dir, 1, 100, 1000);
    sleep_ms(3000);
    assert_int_equal(kill(fx->pm, SIGTERM), 0);
    st = wait_exit(fx->pm, 3000);
    assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fx->pm = 0;
    return log_count(fx, needle);
}

static void test_instant_exit_no_storm(void **state)
{
    fixture_t *fx = *state;
    int starts = run_failing(fx, "/bin/false", NULL, "): started on ");

    /* 100 ms doubling from 200: starts at 0, .2, .6, 1.4 (and 3.0). */
    assert_in_range(starts, 2, 6);
    assert_true(log_count(fx, "exited with status 1") >= 2);
    assert_true(log_count(fx, "failure in a row; backing off, next start in") >= 2);
    assert_int_equal(log_count(fx, "3rd failure in a row; backing off, next start in "
                                   "800 ms"), 1);
}

static void test_missing_executable(void **state)
{
    fixture_t *fx = *state;
    int fails = run_failing(fx, "/nonexistent/fcgi-app", "/tmp",
                            "cannot exec /nonexistent/fcgi-app: No such "
                            "file");

    assert_in_range(fails, 2, 6);
    assert_true(log_count(fx, "failure in a row; backing off, next start in") >= 2);
    assert_int_equal(log_count(fx, "): started on "), 0);
}

static void test_sigterm_cleans_up(void **state)
{
    fixture_t *fx = *state;
    pid_t kids[8];
    struct stat st;
    int i, status;

    start_pm(fx, RESPONDER, NULL, 3, 100, 0);
    assert_true(wait_children(fx->pm, 3, 5000));
    children_of(fx->pm, kids, 8);
    remember(fx, kids, 3);
    assert_int_equal(kill(fx->pm, SIGTERM), 0);
    status = wait_exit(fx->pm, 3000);
    assert_true(status != -1);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    for (i = 0; i < 3; i++) {
        /* reaped by the PM: not even a zombie is left */
        assert_int_equal(proc_stat(kids[i], NULL), 0);
    }
    assert_int_equal(children_of(fx->pm, NULL, 0), 0);
    fx->pm = 0;
    assert_int_equal(stat(fx->sock, &st), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(log_count(fx, "died of signal"), 0);
}

static void test_parent_death(void **state)
{
    fixture_t *fx = *state;
    pid_t kids[8], pm = 0;
    long long end;
    int p[2], i, all_gone = 0;

    assert_int_equal(pipe(p), 0);
    fx->mid = fork();
    assert_true(fx->mid >= 0);
    if (fx->mid == 0) {
        alarm(30);
        pm = fork();
        if (pm == 0) {
            run_pm(fx, RESPONDER, NULL, 2, 100, 0);
        }
        if (write(p[1], &pm, sizeof(pm)) != sizeof(pm)) {
            _exit(1);
        }
        pause();
        _exit(0);
    }
    close(p[1]);
    assert_int_equal(read(p[0], &pm, sizeof(pm)), (ssize_t)sizeof(pm));
    close(p[0]);
    fx->pm = pm;
    assert_true(wait_children(pm, 2, 5000));
    children_of(pm, kids, 8);
    remember(fx, kids, 2);
    assert_int_equal(kill(fx->mid, SIGKILL), 0);
    assert_true(wait_exit(fx->mid, 3000) != -1);
    fx->mid = 0;
    end = now_ms() + 3000;
    while (!all_gone && now_ms() < end) {
        sleep_ms(20);
        all_gone = gone(pm);
        for (i = 0; i < 2; i++) {
            all_gone = all_gone && gone(kids[i]);
        }
    }
    assert_true(all_gone);
    assert_true(log_count(fx, "is gone; shutting down") == 1);
}

/* An app that ignores SIGTERM is killed after the grace period, inside
 * APR's 3 s window, and the PM does not log the signals it sent. */
static void test_sigkill_escalation(void **state)
{
    static const char *const argv[] = {
        "sh", "-c", "trap '' TERM; exec sleep 30", NULL
    };
    fixture_t *fx = *state;
    pid_t kids[8];
    long long t0;
    int i, status;

    fx->argv = argv;
    start_pm(fx, "/bin/sh", NULL, 2, 100, 0);
    assert_true(wait_children(fx->pm, 2, 5000));
    children_of(fx->pm, kids, 8);
    remember(fx, kids, 2);
    for (i = 0; i < 2; i++) {
        assert_true(wait_comm(kids[i], "sleep", 3000));
    }
    t0 = now_ms();
    assert_int_equal(kill(fx->pm, SIGTERM), 0);
    status = wait_exit(fx->pm, 3000);
    assert_true(status != -1 && WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(now_ms() - t0 >= FCGIX_PM_SHUTDOWN_GRACE_MS - 100);
    fx->pm = 0;
    for (i = 0; i < 2; i++) {
        assert_int_equal(proc_stat(kids[i], NULL), 0);
    }
    assert_int_equal(log_count(fx, "sending SIGKILL"), 2);
    assert_int_equal(log_count(fx, "died of signal"), 0);
    assert_int_equal(log_count(fx, "Terminated received; stopping 2 "), 1);
}

/* Inode of a socket fd, from its /proc link "socket:[N]". */
static unsigned long socket_inode(pid_t pid, int fd)
{
    char path[64], link[64];
    unsigned long ino = 0;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%ld/fd/%d", (long)pid, fd);
    n = readlink(path, link, sizeof(link) - 1);
    assert_true(n > 0);
    link[n] = '\0';
    assert_int_equal(sscanf(link, "socket:[%lu]", &ino), 1);
    return ino;
}

/* /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path;
 * Flags 00010000 is __SO_ACCEPTCON, a listening socket. */
static int is_listening(unsigned long ino, const char *path)
{
    char line[512], p[256];
    unsigned long flags, inode;
    int found = 0;
    FILE *f = fopen("/proc/net/unix", "r");

    assert_non_null(f);
    while (!found && fgets(line, sizeof(line), f)) {
        p[0] = '\0';
        if (sscanf(line, "%*s %*s %*s %lx %*s %*s %lu %255s", &flags,
                   &inode, p) >= 2 && inode == ino) {
            found = (flags & 0x10000) && strcmp(p, path) == 0;
        }
    }
    fclose(f);
    return found;
}

static void test_instance_fds(void **state)
{
    fixture_t *fx = *state;
    char path[64], cwd[256];
    struct dirent *e;
    pid_t kid;
    DIR *d;
    int n = 0, mask = 0;
    ssize_t len;

    start_pm(fx, RESPONDER, NULL, 1, 100, 0);
    assert_true(wait_children(fx->pm, 1, 5000));
    children_of(fx->pm, &kid, 1);
    remember(fx, &kid, 1);
    assert_true(wait_comm(kid, "fcgi_responder", 3000));
    snprintf(path, sizeof(path), "/proc/%ld/fd", (long)kid);
    d = opendir(path);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            n++;
            mask |= 1 << atoi(e->d_name);
        }
    }
    closedir(d);
    assert_int_equal(n, 3);
    assert_int_equal(mask, 7);
    assert_true(is_listening(socket_inode(kid, 0), fx->sock));
    snprintf(path, sizeof(path), "/proc/%ld/cwd", (long)kid);
    len = readlink(path, cwd, sizeof(cwd) - 1);
    assert_true(len > 0);
    cwd[len] = '\0';
    /* dirname(path) */
    assert_int_equal(strncmp(cwd, RESPONDER, (size_t)len), 0);
    assert_int_equal(RESPONDER[len], '/');
    assert_null(strchr(RESPONDER + len + 1, '/'));
}

static void test_startup_error(void **state)
{
    fixture_t *fx = *state;
    fcgix_pm_app_t app;
    struct stat st;
    int fd, st_code;
    pid_t pid;

    /* A regular file where the socket should be is not "stale". */
    fd = open(fx->sock, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    close(fd);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(10);
        fd = open(fx->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        memset(&app, 0, sizeof(app));
        app.path = RESPONDER;
        app.socket_base = fx->base;
        _exit(run_one(&app, &fd));
    }
    fx->pm = pid;
    st_code = wait_exit(pid, 3000);
    assert_true(st_code != -1 && WIFEXITED(st_code));
    assert_int_equal(WEXITSTATUS(st_code), FCGIX_PM_EXIT_STARTUP);
    fx->pm = 0;
    assert_int_equal(stat(fx->sock, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(log_count(fx, "cannot remove the stale socket"), 1);
}

static void test_backoff_table(void **state)
{
    static const struct {
        int delay, failures;
        long want;
    } t[] = {
        { 100, 0, 100 },     { 0, 0, 0 },         { -5, 0, 0 },
        { 5000, 0, 5000 },   { 100, 1, 200 },     { 100, 2, 400 },
        { 100, 3, 800 },     { 0, 1, 200 },       { 50, 3, 800 },
        { 1000, 5, 32000 },  { 1000, 6, 60000 },  { 100, 30, 60000 },
        { 100, 1000000, 60000 }, { 70000, 1, 60000 }, { 100, -1, 100 },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        long got = fcgix_pm_backoff_ms(t[i].delay, t[i].failures);

        if (got != t[i].want) {
            fprintf(stderr, "backoff(%d, %d) = %ld, want %ld\n", t[i].delay,
                    t[i].failures, got, t[i].want);
        }
        assert_int_equal(got, t[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pool_serves_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kill9_respawns, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_instant_exit_no_storm, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_missing_executable, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_cleans_up, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_parent_death, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigkill_escalation, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_instance_fds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_startup_error, setup, teardown),
        cmocka_unit_test(test_backoff_table),
    };

    if (access(RESPONDER, X_OK) != 0) {
        fprintf(stderr, "%s missing: make -f Makefile.apxs apps\n",
                RESPONDER);
        return 1;
    }
    /* Orphans of a test come back to us, so teardown can reap them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
