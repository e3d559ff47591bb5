/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_watch.c
 * @brief The watcher process (see fcgi_watch.h).
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apr_hash.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "ap_listen.h"
#include "ap_mpm.h"
#include "mpm_common.h"

#include "fcgi_balance_int.h"
#include "fcgi_connect.h"
#include "fcgi_log.h"
#include "fcgi_probe.h"
#include "fcgi_watch.h"

FCGIX_USE_LOG_MODULE;

/* How often the loop looks whether something is due, at the most. */
#define TICK_MS 200
/* A watcher that dies sooner than this after it started is not started
 * again (it would only die again). */
#define MIN_LIFE_MS 60000
/* How long the parent waits for a stopped watcher before SIGKILL. */
#define STOP_WAIT_MS 2000

typedef fcgix_balanced_t balanced_t;

/* What the watcher keeps between rounds, per balanced app. */
typedef struct {
    const balanced_t *b;
    long long next_resolve_ms, next_check_ms; /* monotonic */
    int *name_failing; /* per name: its last lookup failed (logged once) */
} watched_t;

static volatile sig_atomic_t stop_now;
static pid_t watch_pid;      /* in the parent: this generation's watcher */
static pid_t parent_pid;     /* httpd's parent */
static long long started_ms; /* when watch_pid started */
static server_rec *watch_server;

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Re-resolution                                                       */
/* ------------------------------------------------------------------ */

/* The addresses @nm has now, as the board writes them; NULL when the
 * lookup failed (or found none). */
static apr_array_header_t *lookup(apr_pool_t *p, const fcgix_lb_name_t *nm,
                                  apr_status_t *rv)
{
    apr_array_header_t *found = apr_array_make(p, 4, sizeof(const char *));
    apr_sockaddr_t *sa;
    char *ip;
    int i;

    *rv = apr_sockaddr_info_get(&sa, nm->host, APR_UNSPEC, nm->port, 0, p);
    for (; *rv == APR_SUCCESS && sa; sa = sa->next) {
        const char *text;

        apr_sockaddr_ip_get(&ip, sa);
        text = apr_psprintf(p, sa->family == APR_INET6 ? "[%s]:%d" : "%s:%d",
                            ip, (int)nm->port);
        for (i = 0; i < found->nelts; i++) {
            if (!strcmp(APR_ARRAY_IDX(found, i, const char *), text)) {
                break;
            }
        }
        if (i == found->nelts && found->nelts < nm->count) {
            APR_ARRAY_PUSH(found, const char *) = text;
        }
    }
    return *rv == APR_SUCCESS && found->nelts > 0 ? found : NULL;
}

static int listed(const apr_array_header_t *list, const char *s)
{
    int i;

    for (i = 0; i < list->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(list, i, const char *), s)) {
            return 1;
        }
    }
    return 0;
}

/* The address record @k of @b holds now ("" for none). */
static const char *held(apr_pool_t *p, const balanced_t *b, int k)
{
    char *buf = apr_palloc(p, FCGIX_LB_ADDR_MAX);
    uint32_t gen;

    if (!fcgix_lb_address(fcgix_balance_board(), b->g.records[k], buf,
                          FCGIX_LB_ADDR_MAX, &gen)) {
        buf[0] = '\0';
    }
    return buf;
}

/* Members whose address the name no longer has go; addresses it has
 * now and no member holds come, into records kept for them. */
static void apply_addresses(apr_pool_t *p, const balanced_t *b,
                            const fcgix_lb_name_t *nm,
                            const apr_array_header_t *found)
{
    fcgix_lb_t *lb = fcgix_balance_board();
    apr_array_header_t *have = apr_array_make(p, 4, sizeof(const char *));
    int k, i;

    for (k = nm->first; k < nm->first + nm->count; k++) {
        const char *a = held(p, b, k);

        if (*a && !listed(found, a)) {
            fcgix_lb_readdress(lb, b->g.records[k], NULL);
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, watch_server,
                         FCGIX_LOGNO(00812) "FastCgiExternalServer %s: %s "
                                            "no longer resolves to %s; "
                                            "member removed",
                         b->app->path, nm->spec, a);
        }
        else if (*a) {
            APR_ARRAY_PUSH(have, const char *) = a;
        }
    }
    for (i = 0; i < found->nelts; i++) {
        const char *a = APR_ARRAY_IDX(found, i, const char *);

        for (k = nm->first; !listed(have, a) && k < nm->first + nm->count;
             k++) {
            if (*held(p, b, k) == '\0') {
                fcgix_lb_readdress(lb, b->g.records[k], a);
                APR_ARRAY_PUSH(have, const char *) = a;
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, watch_server,
                             FCGIX_LOGNO(00813) "FastCgiExternalServer %s: "
                                                "%s now resolves to %s too; "
                                                "member added",
                             b->app->path, nm->spec, a);
            }
        }
    }
}

/* Resolve name @i of @w's app again; a failed lookup keeps the members
 * it has (and is logged once, until it succeeds again). */
static void resolve_name(apr_pool_t *p, watched_t *w, int i)
{
    const fcgix_lb_name_t *nm = &w->b->names[i];
    apr_status_t rv;
    int k;
    apr_array_header_t *found = lookup(p, nm, &rv);

    if (found == NULL) {
        if (!w->name_failing[i]) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, watch_server,
                         FCGIX_LOGNO(00811) "FastCgiExternalServer %s: "
                                            "cannot resolve %s now; keeping "
                                            "the members it had",
                         w->b->app->path, nm->spec);
        }
        w->name_failing[i] = 1;
        return;
    }
    if (w->name_failing[i]) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, watch_server,
                     FCGIX_LOGNO(00810) "FastCgiExternalServer %s: %s "
                                        "resolves again",
                     w->b->app->path, nm->spec);
    }
    w->name_failing[i] = 0;
    apply_addresses(p, w->b, nm, found);
    for (k = nm->first; k < nm->first + nm->count; k++) {
        fcgix_lb_resolved(fcgix_balance_board(), w->b->g.records[k], nm->spec,
                          fcgix_balance_now_ms());
    }
}

/* ------------------------------------------------------------------ */
/* Health checks                                                       */
/* ------------------------------------------------------------------ */

/* Connect to member @k and ask it for the -health-check path. The HTTP
 * status, or -1 with @why filled. */
static int probe_member(apr_pool_t *p, const balanced_t *b, int k, char *why,
                        size_t why_size)
{
    char address[FCGIX_LB_ADDR_MAX];
    const fcgix_app_t *target = b->members[k];
    uint32_t gen;
    int fd = -1, status;

    if (!fcgix_lb_address(fcgix_balance_board(), b->g.records[k], address,
                          sizeof(address), &gen)) {
        return -2; /* a record kept for a name: no member */
    }
    if (target == NULL || gen != b->member_gen[k]) {
        target = fcgix_balance_member_app(p, b->app, address);
    }
    if (target == NULL) {
        return -2;
    }
    errno = 0;
    if (fcgix_connect(target, p, b->health_timeout_ms, &fd) != 0) {
        apr_snprintf(why, why_size, "health check: connect: %s",
                     strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    status = fcgix_probe(fd, b->app->path, b->health_uri, b->health_timeout_ms,
                         why, why_size);
    close(fd);
    if (status > 0 && (status < 200 || status > 299)) {
        apr_snprintf(why, why_size, "health check: status %d", status);
    }
    return status;
}

static void check_member(apr_pool_t *p, const balanced_t *b, int k)
{
    char why[FCGIX_LB_ERROR_MAX] = "health check failed";
    const char *address;
    int status = probe_member(p, b, k, why, sizeof(why));
    int ok = status >= 200 && status <= 299;

    if (status == -2) {
        return;
    }
    if (!fcgix_lb_checked(fcgix_balance_board(), &b->g, k, ok, why,
                          fcgix_balance_now_ms())) {
        return;
    }
    address = held(p, b, k);
    if (ok) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, watch_server,
                     FCGIX_LOGNO(00814) "FastCGI app %s: member %s passed "
                                        "its health check and is up again",
                     b->app->path, address);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, watch_server,
                     FCGIX_LOGNO(00815) "FastCGI app %s: member %s is down "
                                        "for %d s: %s",
                     b->app->path, address, b->g.fail_timeout_ms / 1000, why);
    }
}

/* ------------------------------------------------------------------ */
/* The process                                                         */
/* ------------------------------------------------------------------ */

static void one_round(apr_pool_t *p, watched_t *w)
{
    long long now = mono_ms();
    int i;

    if (w->b->nnames > 0 && now >= w->next_resolve_ms) {
        for (i = 0; i < w->b->nnames && !stop_now; i++) {
            resolve_name(p, w, i);
        }
        w->next_resolve_ms = now + w->b->resolve_interval_ms;
    }
    if (w->b->health_uri && now >= w->next_check_ms) {
        for (i = 0; i < w->b->g.n && !stop_now; i++) {
            check_member(p, w->b, i);
        }
        w->next_check_ms = mono_ms() + w->b->health_interval_ms;
    }
}

static apr_array_header_t *watch_list(apr_pool_t *p)
{
    apr_array_header_t *list = apr_array_make(p, 4, sizeof(watched_t));
    apr_hash_index_t *hi;
    long long now = mono_ms();

    for (hi = apr_hash_first(p, fcgix_balance_all()); hi;
         hi = apr_hash_next(hi)) {
        const balanced_t *b = apr_hash_this_val(hi);
        watched_t *w;

        if (b->nnames == 0 && !b->health_uri) {
            continue;
        }
        w = apr_array_push(list);
        w->b = b;
        /* Names were resolved at startup; health is checked now. */
        w->next_resolve_ms = now + b->resolve_interval_ms;
        w->next_check_ms = now;
        w->name_failing = apr_pcalloc(p, sizeof(int) * (b->nnames + 1));
    }
    return list;
}

static void on_term(int sig)
{
    (void)sig;
    stop_now = 1;
}

/* In the watcher: its own process group (a restart's signals to httpd's
 * group are not for it), its own signal handling, httpd's User. */
static void become_watcher(apr_pool_t *p, server_rec *s)
{
    setpgid(0, 0);
    signal(SIGTERM, on_term);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGWINCH, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    ap_close_listeners();
    if (ap_run_drop_privileges(p, s) != OK) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     FCGIX_LOGNO(00817) "FastCGI watcher cannot switch to "
                                        "httpd's User; exiting");
        _exit(1);
    }
}

static void run_watcher(apr_pool_t *pconf, server_rec *s)
{
    apr_array_header_t *list;
    apr_pool_t *p, *round;
    int i;

    apr_pool_create(&p, pconf);
    become_watcher(p, s);
    list = watch_list(p);
    apr_pool_create(&round, p);
    while (!stop_now && getppid() == parent_pid) {
        for (i = 0; i < list->nelts && !stop_now; i++) {
            one_round(round, &APR_ARRAY_IDX(list, i, watched_t));
            apr_pool_clear(round);
        }
        apr_sleep(apr_time_from_msec(TICK_MS));
    }
    _exit(0);
}

/* ------------------------------------------------------------------ */
/* In httpd's parent                                                   */
/* ------------------------------------------------------------------ */

static int start_watcher(apr_pool_t *pconf, server_rec *s);

static void watcher_died(int reason, void *data, apr_wait_t status)
{
    apr_proc_t *proc = data;
    int stopping;

    (void)status;
    if (reason != APR_OC_REASON_DEATH && reason != APR_OC_REASON_LOST) {
        return;
    }
    apr_proc_other_child_unregister(data);
    if (watch_pid != proc->pid) {
        return;
    }
    watch_pid = 0;
    if (ap_mpm_query(AP_MPMQ_MPM_STATE, &stopping) == APR_SUCCESS
        && stopping == AP_MPMQ_STOPPING) {
        return;
    }
    if (mono_ms() - started_ms < MIN_LIFE_MS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, watch_server,
                     FCGIX_LOGNO(00818) "FastCGI watcher (pid %d) died soon "
                                        "after it started; not restarting "
                                        "it: names are not resolved again "
                                        "and health is not checked until "
                                        "httpd restarts",
                     (int)proc->pid);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, watch_server,
                 FCGIX_LOGNO(00819) "FastCGI watcher (pid %d) died; "
                                    "starting a new one",
                 (int)proc->pid);
    start_watcher(watch_server->process->pconf, watch_server);
}

/* The configuration goes away (restart or stop): this generation's
 * watcher stops now; the next generation starts its own. */
static apr_status_t stop_watcher(void *data)
{
    pid_t pid = watch_pid;
    int waited, st;

    (void)data;
    if (getpid() != parent_pid || pid <= 0) {
        return APR_SUCCESS;
    }
    watch_pid = 0;
    kill(pid, SIGTERM);
    for (waited = 0; waited < STOP_WAIT_MS; waited += 10) {
        if (waitpid(pid, &st, WNOHANG) != 0) {
            return APR_SUCCESS;
        }
        apr_sleep(apr_time_from_msec(10));
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return APR_SUCCESS;
}

static int start_watcher(apr_pool_t *pconf, server_rec *s)
{
    apr_proc_t *proc = apr_pcalloc(pconf, sizeof(*proc));
    apr_status_t rv = apr_proc_fork(proc, pconf);

    if (rv == APR_INCHILD) {
        run_watcher(pconf, s);
    }
    if (rv != APR_INPARENT) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     FCGIX_LOGNO(00816) "cannot fork the FastCGI watcher");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    watch_pid = proc->pid;
    started_ms = mono_ms();
    apr_proc_other_child_register(proc, watcher_died, proc, NULL, pconf);
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                 FCGIX_LOGNO(00820) "FastCGI watcher started (pid %d)",
                 (int)proc->pid);
    return OK;
}

int fcgix_watch_post_config(apr_pool_t *pconf, server_rec *s)
{
    watch_pid = 0;
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG
        || !fcgix_balance_needs_watcher()) {
        return OK;
    }
    parent_pid = getpid();
    watch_server = s;
    apr_pool_cleanup_register(pconf, NULL, stop_watcher, apr_pool_cleanup_null);
    return start_watcher(pconf, s);
}
