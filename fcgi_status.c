/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_status.c
 * @brief The fastcgi-status page and the FastCGI section of mod_status.
 *
 * Two steps per request. take_snapshot() copies what the page shows from
 * the scoreboard and the configuration into plain structs (every board
 * word through an atomic load: the PM and other requests write them
 * meanwhile); then one renderer writes the snapshot as HTML, JSON or
 * "Key: value" lines. Nothing here writes to the board.
 *
 * The board holds what the PM runs (FastCgiServer pools and dynamic
 * apps); external servers come from the configuration, with the kept
 * connections of the httpd child that serves the page (each child has
 * its own). A snapshot is a moment's picture, not a transaction: two
 * counters may be read microseconds apart, and a class the PM is setting
 * up (not "ready" yet) is left out.
 */

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "mod_status.h"

#include "apr_optional_hooks.h"
#include "apr_strings.h"

#include "fcgi_config.h"
#include "fcgi_conns.h"
#include "fcgi_status.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)

/* This generation's board (NULL: no PM) and apps; set in post_config,
 * read-only afterwards (children inherit them). */
static fcgix_sb_t *board;
static apr_hash_t *registry;

/* ------------------------------------------------------------------ */
/* The snapshot                                                        */
/* ------------------------------------------------------------------ */

/** Sums over processes, for a class and for everything. */
typedef struct {
    int processes;          /* slots with a live process */
    int busy;               /* processes serving a request now */
    uint32_t waiting;       /* requests waiting for the PM to start one */
    uint64_t requests;      /* served since the board was made */
    uint64_t failed_starts; /* starts that failed (backed off) */
    uint64_t restarts;      /* starts after a slot's first */
    int kept;               /* idle kept connections in this httpd child;
                               -1: nothing keeps any */
} counts_t;

/** One slot of a board class that is not empty. */
typedef struct {
    int slot;              /* index within its class */
    int pid;               /* 0 when no process runs */
    uint32_t state;        /* FCGIX_SB_* */
    int users;             /* requests in it now; -1: closed to requests */
    int retiring;          /* avoided by new requests */
    uint32_t hung;         /* 0, FCGIX_SB_HUNG or FCGIX_SB_UNREACHABLE */
    uint32_t restarts;     /* starts after its first */
    int first_start;       /* BACKOFF before its first start */
    int64_t age_ms;        /* since its process started; -1: none */
    int64_t idle_ms;       /* since its last request; -1: busy or none */
    int64_t backoff_ms;    /* until its next start; -1: not backing off */
    uint64_t requests;     /* served by the current process */
    uint64_t all_requests; /* served by the slot since the board was made */
    char socket[FCGIX_SB_SOCK_MAX];
} proc_snap_t;

/** One application class. */
typedef struct {
    fcgix_app_kind_t kind;
    const char *path;
    const char *address; /* external: socket path or host:port; -port:
                            the TCP address its processes share */
    int slots;           /* board capacity; 0 for an external server */
    int nprocs;          /* entries in procs */
    proc_snap_t *procs;
    uint64_t max_requests; /* per process; 0: no limit */
    counts_t sum;
} class_snap_t;

typedef struct {
    int all;              /* every host's apps, or the request's host's */
    int pm_running;       /* its PM process exists now */
    int pm_pid;           /* 0 when none */
    int64_t pm_uptime_ms; /* -1 when not running */
    int generation;       /* configuration generation of this child */
    uint32_t waiting_new; /* waiting for an app that has no class yet */
    int nclasses;
    class_snap_t *classes;
    counts_t total;
} snap_t;

/** Whose applications a page shows: every one (FastCgiStatusShowAll
 *  On), or those of the request's virtual host, so that a tenant's
 *  .htaccess page does not list other tenants' apps, pids and sockets. */
typedef struct {
    int all;
    const server_rec *server; /* the request's host */
    const char *docroot;      /* its DocumentRoot, for dynamic apps */
    size_t docroot_len;       /* without trailing slashes */
} view_t;

static view_t view_of(request_rec *r)
{
    const fcgix_srv_conf_t *conf =
        ap_get_module_config(r->server->module_config, &fastcgi_x_module);
    view_t v;

    v.all = conf->status_show_all == 1;
    v.server = r->server;
    /* The request's root: a per-request one (mod_vhost_alias) counts. */
    v.docroot = ap_document_root(r);
    v.docroot_len = strlen(v.docroot);
    while (v.docroot_len > 0 && v.docroot[v.docroot_len - 1] == '/') {
        v.docroot_len--;
    }
    return v;
}

/* FastCgiServer and FastCgiExternalServer apps belong to the hosts
 * whose configuration defines them. */
static int defined_here(const view_t *v, const fcgix_app_t *app)
{
    int i;

    for (i = 0; app->servers && i < app->servers->nelts; i++) {
        if (APR_ARRAY_IDX(app->servers, i, server_rec *) == v->server) {
            return 1;
        }
    }
    return 0;
}

/* A dynamic app belongs to the host whose DocumentRoot holds its file
 * (the board does not say which host's request started it). */
static int under_docroot(const view_t *v, const char *path)
{
    return strncmp(path, v->docroot, v->docroot_len) == 0
           && path[v->docroot_len] == '/';
}

static int shows(const view_t *v, fcgix_app_kind_t kind, const char *path)
{
    const fcgix_app_t *app;

    if (v->all) {
        return 1;
    }
    if (kind == FCGIX_APP_DYNAMIC) {
        return under_docroot(v, path);
    }
    app = registry ? apr_hash_get(registry, path, APR_HASH_KEY_STRING) : NULL;
    return app != NULL && defined_here(v, app);
}

static int64_t wall_ms(void)
{
    return (int64_t)apr_time_as_msec(apr_time_now());
}

static int64_t not_negative(int64_t v)
{
    return v < 0 ? 0 : v;
}

static int has_process(const proc_snap_t *ps)
{
    return ps->pid > 0
           && (ps->state == FCGIX_SB_RUNNING || ps->state == FCGIX_SB_STOPPING);
}

/* A NUL-terminated copy of a board string the PM may be rewriting (a
 * restarted PM reuses classes and slots): never read past @size. */
static void copy_text(char *dst, const char *src, size_t size)
{
    memcpy(dst, src, size);
    dst[size - 1] = '\0';
}

static void snap_slot(const fcgix_sb_slot_t *s, int64_t now, proc_snap_t *ps)
{
    int64_t started = LOAD(&s->started_ms), last = LOAD(&s->last_used_ms);
    int64_t until = LOAD(&s->backoff_until_ms);

    ps->pid = LOAD(&s->pid);
    ps->state = LOAD(&s->state);
    ps->users = fcgix_sb_users(s);
    ps->retiring = LOAD(&s->retiring) != 0;
    ps->hung = LOAD(&s->hung);
    ps->restarts = LOAD(&s->restarts);
    ps->requests = LOAD(&s->requests);
    ps->all_requests = LOAD(&s->total_requests);
    ps->age_ms = ps->idle_ms = ps->backoff_ms = -1;
    /* The PM schedules a pool's first starts without a back-off time. */
    ps->first_start = ps->state == FCGIX_SB_BACKOFF && until == 0;
    if (has_process(ps)) {
        ps->age_ms = not_negative(now - started);
        if (ps->users <= 0) {
            /* last_used_ms may be an earlier process's in this slot */
            ps->idle_ms = not_negative(now - (last > started ? last : started));
        }
    }
    else if (ps->state == FCGIX_SB_BACKOFF && !ps->first_start) {
        ps->backoff_ms = not_negative(until - now);
    }
    copy_text(ps->socket, s->socket_path, sizeof(ps->socket));
}

static void count_proc(counts_t *sum, const proc_snap_t *ps)
{
    sum->processes += has_process(ps);
    sum->busy += has_process(ps) && ps->users > 0;
    sum->requests += ps->all_requests;
    sum->restarts += ps->restarts;
}

/* The slots of a class (@first, cs->slots of them) that are not empty;
 * the sums count them all. */
static void snap_slots(apr_pool_t *p, fcgix_sb_t *sb, int first, int64_t now,
                       class_snap_t *cs)
{
    int i;

    cs->procs = apr_pcalloc(p, sizeof(proc_snap_t) * (size_t)(cs->slots + 1));
    for (i = 0; i < cs->slots; i++) {
        proc_snap_t *ps = &cs->procs[cs->nprocs];

        snap_slot(fcgix_sb_slot(sb, first + i), now, ps);
        count_proc(&cs->sum, ps);
        if (ps->state != FCGIX_SB_EMPTY) {
            ps->slot = i;
            cs->nprocs++;
        }
    }
}

static const char *address_of(apr_pool_t *p, const fcgix_app_t *app)
{
    if (app->socket_path) {
        return app->socket_path;
    }
    if (app->host == NULL) {
        return "";
    }
    return apr_psprintf(p, strchr(app->host, ':') ? "[%s]:%d" : "%s:%d",
                        app->host, app->port);
}

/* A FastCgiServer -port app's 127.0.0.1:port, else NULL (its processes
 * have a socket each, shown per process). */
static const char *shared_address(apr_pool_t *p, const char *path)
{
    const fcgix_app_t *app =
        registry ? apr_hash_get(registry, path, APR_HASH_KEY_STRING) : NULL;

    if (app == NULL || app->kind != FCGIX_APP_STATIC || app->port <= 0) {
        return NULL;
    }
    return address_of(p, app);
}

/* Class @c of the board; 0 when it is not in use (free, or the PM is
 * still filling it in: "ready" is stored last) or not in @v. */
static int snap_board_class(apr_pool_t *p, const view_t *v, fcgix_sb_t *sb,
                            int c, int64_t now, class_snap_t *cs)
{
    const fcgix_sb_class_t *k = fcgix_sb_class(sb, c);
    int first, n;

    if (!LOAD(&k->ready)) {
        return 0;
    }
    if (fcgix_sb_class_slots(sb, c, &first, &n) != 0) {
        return 0; /* being rewritten by a restarted PM, or corrupted */
    }
    memset(cs, 0, sizeof(*cs));
    cs->kind = LOAD(&k->kind) == FCGIX_SB_DYNAMIC ? FCGIX_APP_DYNAMIC
                                                  : FCGIX_APP_STATIC;
    cs->path = apr_pstrndup(p, k->path, sizeof(k->path) - 1);
    if (!shows(v, cs->kind, cs->path)) {
        return 0;
    }
    cs->address = shared_address(p, cs->path);
    cs->slots = (int)n;
    cs->max_requests = LOAD(&k->max_requests);
    cs->sum.waiting = LOAD(&k->waiting);
    cs->sum.failed_starts = LOAD(&k->failed_starts);
    cs->sum.kept = -1; /* requests to PM-run apps keep no connection */
    snap_slots(p, sb, first, now, cs);
    return 1;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const class_snap_t *)a)->path,
                  ((const class_snap_t *)b)->path);
}

/* The FastCgiExternalServer apps in @v, by path, appended to @sn. */
static void snap_externals(apr_pool_t *p, const view_t *v, snap_t *sn)
{
    apr_hash_index_t *hi;
    int first = sn->nclasses;

    for (hi = apr_hash_first(p, registry); hi; hi = apr_hash_next(hi)) {
        const fcgix_app_t *app = apr_hash_this_val(hi);
        class_snap_t *cs = &sn->classes[sn->nclasses];

        if (app->kind != FCGIX_APP_EXTERNAL
            || !shows(v, app->kind, app->path)) {
            continue;
        }
        memset(cs, 0, sizeof(*cs));
        cs->kind = FCGIX_APP_EXTERNAL;
        cs->path = app->path;
        cs->address = address_of(p, app);
        cs->sum.kept = fcgix_conns_idle_count(app);
        sn->nclasses++;
    }
    qsort(sn->classes + first, (size_t)(sn->nclasses - first),
          sizeof(class_snap_t), by_path);
}

static void add_counts(counts_t *total, const counts_t *c)
{
    total->processes += c->processes;
    total->busy += c->busy;
    total->waiting += c->waiting;
    total->requests += c->requests;
    total->failed_starts += c->failed_starts;
    total->restarts += c->restarts;
    if (c->kept >= 0) {
        total->kept = (total->kept < 0 ? 0 : total->kept) + c->kept;
    }
}

/* Whether the PM whose pid is on the board exists. httpd's parent sets
 * the pid to 0 when it gives up on the PM; between a PM's death and its
 * restart the pid is stale, hence the look (signal 0 sends nothing). */
static int pm_alive(int pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static void snap_pm(fcgix_sb_t *sb, int64_t now, snap_t *sn)
{
    sn->pm_pid = (int)LOAD(&sb->head->pm_pid);
    sn->pm_running = pm_alive(sn->pm_pid);
    if (!sn->pm_running) {
        sn->pm_pid = 0;
    }
    else {
        sn->pm_uptime_ms = not_negative(now - LOAD(&sb->head->pm_started_ms));
    }
    sn->waiting_new = LOAD(&sb->head->waiting_new);
}

/* What the page for @r shows: the apps in its view (view_of). */
static snap_t *take_snapshot(request_rec *r)
{
    apr_pool_t *p = r->pool;
    snap_t *sn = apr_pcalloc(p, sizeof(*sn));
    fcgix_sb_t *sb = board;
    view_t v = view_of(r);
    int64_t now = wall_ms();
    int c, room = registry ? (int)apr_hash_count(registry) : 0;

    sn->all = v.all;
    sn->pm_uptime_ms = -1;
    sn->total.kept = -1;
    sn->generation = ap_state_query(AP_SQ_CONFIG_GEN);
    room += sb ? sb->nclasses : 0;
    sn->classes = apr_pcalloc(p, sizeof(class_snap_t) * (size_t)(room + 1));
    if (sb) {
        snap_pm(sb, now, sn);
        for (c = 0; c < sb->nclasses; c++) {
            sn->nclasses +=
                snap_board_class(p, &v, sb, c, now, &sn->classes[sn->nclasses]);
        }
    }
    if (registry) {
        snap_externals(p, &v, sn);
    }
    if (!v.all) {
        /* Requests for an app without a class yet: no host to name. */
        sn->waiting_new = 0;
    }
    for (c = 0; c < sn->nclasses; c++) {
        add_counts(&sn->total, &sn->classes[c].sum);
    }
    sn->total.waiting += sn->waiting_new;
    return sn;
}

/* ------------------------------------------------------------------ */
/* Words and numbers shared by the renderers                           */
/* ------------------------------------------------------------------ */

static const char *kind_name(fcgix_app_kind_t kind)
{
    switch (kind) {
    case FCGIX_APP_STATIC:
        return "static";
    case FCGIX_APP_DYNAMIC:
        return "dynamic";
    default:
        return "external";
    }
}

/* The machine-readable state (JSON, ?auto). */
static const char *state_name(const proc_snap_t *ps)
{
    switch (ps->state) {
    case FCGIX_SB_RUNNING:
        return "running";
    case FCGIX_SB_BACKOFF:
        return ps->first_start ? "starting" : "backoff";
    case FCGIX_SB_STOPPING:
        return "stopping";
    default:
        return "empty";
    }
}

static const char *problem_name(uint32_t hung)
{
    return hung == FCGIX_SB_HUNG          ? "not answering"
           : hung == FCGIX_SB_UNREACHABLE ? "unreachable"
                                          : NULL;
}

/* The state in words, for people. */
static const char *state_words(apr_pool_t *p, const proc_snap_t *ps)
{
    const char *words, *problem = problem_name(ps->hung);

    if (ps->state == FCGIX_SB_RUNNING) {
        words = ps->users > 0
                    ? apr_psprintf(p, "busy (%d request%s)", ps->users,
                                   ps->users == 1 ? "" : "s")
                : ps->users == 0 ? "idle"
                                 : "running, closed to requests";
    }
    else if (ps->state == FCGIX_SB_BACKOFF) {
        words = ps->first_start ? "starting" : "backing off";
    }
    else {
        words = ps->state == FCGIX_SB_STOPPING ? "stopping" : "no process";
    }
    if (ps->retiring) {
        words = apr_pstrcat(p, words, ", retiring", NULL);
    }
    return problem ? apr_pstrcat(p, words, ", ", problem, NULL) : words;
}

/* "45s", "3m12s", "2h05m", "1d03h"; "-" when there is nothing to time. */
static const char *human_duration(apr_pool_t *p, int64_t ms)
{
    int64_t s = ms / 1000;

    if (ms < 0) {
        return "-";
    }
    if (s < 60) {
        return apr_psprintf(p, "%ds", (int)s);
    }
    if (s < 3600) {
        return apr_psprintf(p, "%dm%02ds", (int)(s / 60), (int)(s % 60));
    }
    if (s < 86400) {
        return apr_psprintf(p, "%dh%02dm", (int)(s / 3600),
                            (int)(s % 3600 / 60));
    }
    return apr_psprintf(p, "%dd%02dh", (int)(s / 86400),
                        (int)(s % 86400 / 3600));
}

/* Seconds with millisecond precision, or @none. */
static const char *seconds(apr_pool_t *p, int64_t ms, const char *none)
{
    return ms < 0 ? none : apr_psprintf(p, "%.3f", (double)ms / 1000.0);
}

static const char *u64(apr_pool_t *p, uint64_t v)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, (apr_uint64_t)v);
}

/* The counts every format shows, in the order they show them, with each
 * one's name in the HTML table, the JSON object and the ?auto lines. */
enum {
    COUNT_PROCESSES,
    COUNT_BUSY,
    COUNT_IDLE,
    COUNT_REQUESTS,
    COUNT_WAITING,
    COUNT_FAILED_STARTS,
    COUNT_RESTARTS,
    COUNT_KEPT,
    NCOUNTS
};

static const struct {
    const char *html, *json, *line;
} count_names[NCOUNTS] = {
    {"processes", "processes", "FastCGIProcesses"},
    {"busy", "busy", "FastCGIBusyProcesses"},
    {"idle", "idle", "FastCGIIdleProcesses"},
    {"requests served", "requests", "FastCGIRequestsServed"},
    {"waiting requests", "waiting", "FastCGIWaitingRequests"},
    {"failed starts", "failed_starts", "FastCGIFailedStarts"},
    {"restarts", "restarts", "FastCGIRestarts"},
    {"kept connections (this httpd child)", "kept_connections",
     "FastCGIKeptConnections"}};

/* @c's counts as text, in count_names' order; @no_kept stands for the
 * kept connections when nothing keeps any. */
static void count_texts(apr_pool_t *p, const counts_t *c, const char *no_kept,
                        const char *out[NCOUNTS])
{
    out[COUNT_PROCESSES] = apr_itoa(p, c->processes);
    out[COUNT_BUSY] = apr_itoa(p, c->busy);
    out[COUNT_IDLE] = apr_itoa(p, c->processes - c->busy);
    out[COUNT_REQUESTS] = u64(p, c->requests);
    out[COUNT_WAITING] = u64(p, c->waiting);
    out[COUNT_FAILED_STARTS] = u64(p, c->failed_starts);
    out[COUNT_RESTARTS] = u64(p, c->restarts);
    out[COUNT_KEPT] = c->kept < 0 ? no_kept : apr_itoa(p, c->kept);
}

/* ------------------------------------------------------------------ */
/* HTML                                                                */
/* ------------------------------------------------------------------ */

static const char *html(request_rec *r, const char *s)
{
    return ap_escape_html(r->pool, s);
}

static void html_pm(request_rec *r, const snap_t *sn)
{
    if (!sn->pm_running) {
        ap_rputs("<p><strong>process manager not running</strong>: "
                 "FastCgiServer and dynamic apps cannot be served.</p>\n",
                 r);
        return;
    }
    ap_rprintf(r,
               "<p>Process manager: running, pid %d, up %s; configuration "
               "generation %d.</p>\n",
               sn->pm_pid, human_duration(r->pool, sn->pm_uptime_ms),
               sn->generation);
}

static void html_view(request_rec *r, const snap_t *sn)
{
    if (!sn->all) {
        ap_rputs("<p>Applications of this virtual host only "
                 "(FastCgiStatusShowAll Off).</p>\n",
                 r);
    }
}

static void html_totals(request_rec *r, const snap_t *sn)
{
    const char *value[NCOUNTS];
    int i;

    count_texts(r->pool, &sn->total, "-", value);
    ap_rputs("<table>\n<tr><th>classes</th>", r);
    for (i = 0; i < NCOUNTS; i++) {
        ap_rvputs(r, "<th>", count_names[i].html, "</th>", NULL);
    }
    ap_rprintf(r, "</tr>\n<tr><td>%d</td>", sn->nclasses);
    for (i = 0; i < NCOUNTS; i++) {
        ap_rvputs(r, "<td>", value[i], "</td>", NULL);
    }
    ap_rputs("</tr>\n</table>\n", r);
}

static void html_proc(request_rec *r, const proc_snap_t *ps)
{
    apr_pool_t *p = r->pool;

    ap_rprintf(r,
               "<tr><td>%d</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
               "<td>%s</td><td>%s</td><td>%u</td><td>%s</td><td>%s</td>"
               "</tr>\n",
               ps->slot, ps->pid > 0 ? apr_itoa(p, ps->pid) : "-",
               html(r, state_words(p, ps)), human_duration(p, ps->age_ms),
               u64(p, ps->requests), u64(p, ps->all_requests),
               human_duration(p, ps->idle_ms), (unsigned)ps->restarts,
               ps->backoff_ms < 0
                   ? "-"
                   : apr_psprintf(p, "restarting in %.1f s",
                                  (double)ps->backoff_ms / 1000.0),
               html(r, ps->socket));
}

/* A FastCgiServer pool or a dynamic app: a row per process, a totals
 * row. */
static void html_class(request_rec *r, const class_snap_t *cs)
{
    const counts_t *s = &cs->sum;
    uint64_t current = 0;
    int i;

    ap_rprintf(r,
               "<h3>%s: <code>%s</code></h3>\n"
               "<p>%d of %d process%s running, %d busy; waiting requests: "
               "%u; failed starts: %s; max requests per process: %s.</p>\n",
               cs->kind == FCGIX_APP_STATIC ? "FastCgiServer" : "dynamic app",
               html(r, cs->path), s->processes, cs->slots,
               cs->slots == 1 ? "" : "es", s->busy, (unsigned)s->waiting,
               u64(r->pool, s->failed_starts),
               cs->max_requests ? u64(r->pool, cs->max_requests) : "unlimited");
    if (cs->address) {
        ap_rprintf(r, "<p>Its processes share %s.</p>\n", html(r, cs->address));
    }
    ap_rputs("<table>\n<tr><th>slot</th><th>pid</th><th>state</th>"
             "<th>age</th><th>requests (this process)</th>"
             "<th>requests (slot)</th><th>idle</th><th>restarts</th>"
             "<th>back-off</th><th>socket</th></tr>\n",
             r);
    for (i = 0; i < cs->nprocs; i++) {
        html_proc(r, &cs->procs[i]);
        current += cs->procs[i].requests;
    }
    ap_rprintf(r,
               "<tr><th>total</th><td>%d process%s</td><td>%d busy</td>"
               "<td></td><td>%s</td><td>%s</td><td></td><td>%s</td><td></td>"
               "<td></td></tr>\n</table>\n",
               s->processes, s->processes == 1 ? "" : "es", s->busy,
               u64(r->pool, current), u64(r->pool, s->requests),
               u64(r->pool, s->restarts));
}

static void html_externals(request_rec *r, const snap_t *sn)
{
    counts_t sum = {0, 0, 0, 0, 0, 0, -1};
    int i, n = 0;

    for (i = 0; i < sn->nclasses; i++) {
        const class_snap_t *cs = &sn->classes[i];

        if (cs->kind != FCGIX_APP_EXTERNAL) {
            continue;
        }
        if (n++ == 0) {
            ap_rputs("<h3>FastCgiExternalServer</h3>\n<table>\n<tr>"
                     "<th>path</th><th>socket or address</th>"
                     "<th>kept connections (this httpd child)</th></tr>\n",
                     r);
        }
        add_counts(&sum, &cs->sum);
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                   html(r, cs->path), html(r, cs->address),
                   cs->sum.kept < 0 ? "- (no -keep-conn)"
                                    : apr_itoa(r->pool, cs->sum.kept));
    }
    if (n > 0) {
        ap_rprintf(r,
                   "<tr><th>total</th><td>%d server%s</td><td>%s</td></tr>\n"
                   "</table>\n",
                   n, n == 1 ? "" : "s",
                   sum.kept < 0 ? "-" : apr_itoa(r->pool, sum.kept));
    }
}

/* Everything below the page's title; also mod_status's section. */
static void html_sections(request_rec *r, const snap_t *sn)
{
    int i;

    html_pm(r, sn);
    html_view(r, sn);
    html_totals(r, sn);
    if (sn->waiting_new) {
        ap_rprintf(r,
                   "<p>Requests waiting for a dynamic app's first start: "
                   "%u.</p>\n",
                   (unsigned)sn->waiting_new);
    }
    for (i = 0; i < sn->nclasses; i++) {
        if (sn->classes[i].kind != FCGIX_APP_EXTERNAL) {
            html_class(r, &sn->classes[i]);
        }
    }
    html_externals(r, sn);
}

static void html_page(request_rec *r, const snap_t *sn)
{
    ap_rputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n"
             "<title>FastCGI status</title>\n<style>\n"
             "table { border-collapse: collapse; margin-bottom: 1em; }\n"
             "th, td { border: 1px solid #999; padding: 2px 6px; "
             "text-align: left; }\n"
             "</style></head><body>\n<h1>FastCGI status</h1>\n",
             r);
    html_sections(r, sn);
    ap_rputs("</body></html>\n", r);
}

/* ------------------------------------------------------------------ */
/* JSON                                                                */
/* ------------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at @s (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), 0 when there is none.
 * A NUL fails the continuation test, so nothing past it is read. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n, i;

    if (s[0] < 0x80) {
        return 1;
    }
    n = s[0] >= 0xC2 && s[0] <= 0xDF   ? 2
        : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
        : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                       : 0;
    lo = s[0] == 0xE0 ? 0xA0 : s[0] == 0xF0 ? 0x90 : lo;
    hi = s[0] == 0xED ? 0x9F : s[0] == 0xF4 ? 0x8F : hi;
    if (n == 0 || s[1] < lo || s[1] > hi) {
        return 0;
    }
    for (i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

/* @s as a JSON string with its quotes. A path may hold any byte: bytes
 * that are not UTF-8 become U+FFFD, so that every parser takes the page;
 * control characters are escaped. */
static const char *json_str(apr_pool_t *p, const char *s)
{
    const unsigned char *in = (const unsigned char *)s;
    char *out = apr_palloc(p, strlen(s) * 6 + 3), *o = out;
    size_t n;

    *o++ = '"';
    while (*in) {
        n = utf8_len(in);
        if (n == 0) {
            memcpy(o, "\\ufffd", 6);
            o += 6;
            in++;
        }
        else if (n > 1) {
            memcpy(o, in, n);
            o += n;
            in += n;
        }
        else if (*in == '"' || *in == '\\') {
            *o++ = '\\';
            *o++ = (char)*in++;
        }
        else if (*in < 0x20 || *in == 0x7F) {
            apr_snprintf(o, 7, "\\u%04x", (unsigned)*in++);
            o += 6;
        }
        else {
            *o++ = (char)*in++;
        }
    }
    *o++ = '"';
    *o = '\0';
    return out;
}

static const char *json_bool(int v)
{
    return v ? "true" : "false";
}

static void json_counts(request_rec *r, const counts_t *c)
{
    const char *value[NCOUNTS];
    int i;

    count_texts(r->pool, c, "null", value);
    for (i = 0; i < NCOUNTS; i++) {
        ap_rprintf(r, "%s\"%s\": %s", i ? ", " : "", count_names[i].json,
                   value[i]);
    }
}

static void json_proc(request_rec *r, const proc_snap_t *ps, int last)
{
    apr_pool_t *p = r->pool;
    const char *problem = problem_name(ps->hung);

    ap_rprintf(r,
               "        {\"slot\": %d, \"pid\": %s, \"state\": \"%s\", "
               "\"busy\": %s, \"in_flight\": %d, \"open\": %s, "
               "\"retiring\": %s, \"problem\": %s, \"age\": %s, "
               "\"idle\": %s, \"requests\": %s, \"slot_requests\": %s, "
               "\"restarts\": %u, \"backoff\": %s, \"socket\": %s}%s\n",
               ps->slot, ps->pid > 0 ? apr_itoa(p, ps->pid) : "null",
               state_name(ps), json_bool(has_process(ps) && ps->users > 0),
               ps->users > 0 ? ps->users : 0, json_bool(ps->users >= 0),
               json_bool(ps->retiring), problem ? json_str(p, problem) : "null",
               seconds(p, ps->age_ms, "null"), seconds(p, ps->idle_ms, "null"),
               u64(p, ps->requests), u64(p, ps->all_requests),
               (unsigned)ps->restarts, seconds(p, ps->backoff_ms, "null"),
               json_str(p, ps->socket), last ? "" : ",");
}

static void json_class(request_rec *r, const class_snap_t *cs, int last)
{
    int i;

    ap_rprintf(r, "    {\"kind\": \"%s\", \"path\": %s, \"address\": %s, ",
               kind_name(cs->kind), json_str(r->pool, cs->path),
               cs->address ? json_str(r->pool, cs->address) : "null");
    if (cs->kind == FCGIX_APP_EXTERNAL) {
        /* Its processes are not ours: only what this child knows. */
        ap_rprintf(r,
                   "\"kept_connections\": %s, "
                   "\"kept_connections_scope\": \"this httpd child\"}%s\n",
                   cs->sum.kept < 0 ? "null" : apr_itoa(r->pool, cs->sum.kept),
                   last ? "" : ",");
        return;
    }
    ap_rprintf(r, "\"slots\": %d, \"max_requests\": %s, ", cs->slots,
               u64(r->pool, cs->max_requests));
    json_counts(r, &cs->sum);
    ap_rputs(",\n      \"process_list\": [\n", r);
    for (i = 0; i < cs->nprocs; i++) {
        json_proc(r, &cs->procs[i], i == cs->nprocs - 1);
    }
    ap_rprintf(r, "      ]}%s\n", last ? "" : ",");
}

static void json_page(request_rec *r, const snap_t *sn)
{
    int i;

    ap_rprintf(r,
               "{\n  \"process_manager\": {\"running\": %s, \"pid\": %s, "
               "\"uptime\": %s, \"generation\": %d, "
               "\"waiting_first_start\": %u},\n",
               json_bool(sn->pm_running),
               sn->pm_running ? apr_itoa(r->pool, sn->pm_pid) : "null",
               seconds(r->pool, sn->pm_uptime_ms, "null"), sn->generation,
               (unsigned)sn->waiting_new);
    ap_rprintf(r, "  \"view\": \"%s\",\n", sn->all ? "all" : "virtual host");
    ap_rprintf(r, "  \"totals\": {\"classes\": %d, ", sn->nclasses);
    json_counts(r, &sn->total);
    ap_rputs("},\n  \"classes\": [\n", r);
    for (i = 0; i < sn->nclasses; i++) {
        json_class(r, &sn->classes[i], i == sn->nclasses - 1);
    }
    ap_rputs("  ]\n}\n", r);
}

/* ------------------------------------------------------------------ */
/* ?auto: mod_status's "Key: value" lines                              */
/* ------------------------------------------------------------------ */

/* A value of a "name=value" field: bytes that would split it (space,
 * '=', '%', controls, non-ASCII) are percent-encoded; "-" when empty. */
static const char *auto_token(apr_pool_t *p, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *in = (const unsigned char *)s;
    char *out = apr_palloc(p, strlen(s) * 3 + 2), *o = out;

    if (*in == '\0') {
        return "-";
    }
    for (; *in; in++) {
        if (*in <= 0x20 || *in >= 0x7F || *in == '%' || *in == '=') {
            *o++ = '%';
            *o++ = hex[*in >> 4];
            *o++ = hex[*in & 15];
        }
        else {
            *o++ = (char)*in;
        }
    }
    *o = '\0';
    return out;
}

/* The summary lines; all that server-status?auto gets. */
static void auto_summary(request_rec *r, const snap_t *sn)
{
    const char *value[NCOUNTS];
    int i;

    ap_rprintf(r,
               "FastCGIManager: %s\nFastCGIManagerPid: %d\n"
               "FastCGIManagerUptime: %s\nFastCGIClasses: %d\n",
               sn->pm_running ? "running" : "not running", sn->pm_pid,
               sn->pm_uptime_ms < 0 ? "0"
                                    : apr_psprintf(r->pool, "%" APR_INT64_T_FMT,
                                                   sn->pm_uptime_ms / 1000),
               sn->nclasses);
    count_texts(r->pool, &sn->total, "0", value);
    for (i = 0; i < NCOUNTS; i++) {
        ap_rprintf(r, "%s: %s\n", count_names[i].line, value[i]);
    }
    ap_rprintf(r, "FastCGIView: %s\n", sn->all ? "all" : "host");
}

static void auto_proc(request_rec *r, const char *path, const proc_snap_t *ps)
{
    apr_pool_t *p = r->pool;

    ap_rprintf(r,
               "Process: path=%s slot=%d pid=%d state=%s busy=%d "
               "in_flight=%d age=%s idle=%s requests=%s slot_requests=%s "
               "restarts=%u backoff=%s socket=%s\n",
               path, ps->slot, ps->pid, state_name(ps),
               has_process(ps) && ps->users > 0, ps->users > 0 ? ps->users : 0,
               seconds(p, ps->age_ms, "-"), seconds(p, ps->idle_ms, "-"),
               u64(p, ps->requests), u64(p, ps->all_requests),
               (unsigned)ps->restarts, seconds(p, ps->backoff_ms, "-"),
               auto_token(p, ps->socket));
}

static void auto_class(request_rec *r, const class_snap_t *cs)
{
    const char *path = auto_token(r->pool, cs->path);
    const counts_t *s = &cs->sum;
    int i;

    if (cs->kind == FCGIX_APP_EXTERNAL) {
        ap_rprintf(r,
                   "Class: kind=external path=%s address=%s "
                   "kept_connections=%s\n",
                   path, auto_token(r->pool, cs->address),
                   s->kept < 0 ? "-" : apr_itoa(r->pool, s->kept));
        return;
    }
    ap_rprintf(r,
               "Class: kind=%s path=%s address=%s slots=%d processes=%d "
               "busy=%d waiting=%u failed_starts=%s requests=%s restarts=%s "
               "max_requests=%s\n",
               kind_name(cs->kind), path,
               cs->address ? auto_token(r->pool, cs->address) : "-", cs->slots,
               s->processes, s->busy, (unsigned)s->waiting,
               u64(r->pool, s->failed_starts), u64(r->pool, s->requests),
               u64(r->pool, s->restarts), u64(r->pool, cs->max_requests));
    for (i = 0; i < cs->nprocs; i++) {
        auto_proc(r, path, &cs->procs[i]);
    }
}

static void auto_page(request_rec *r, const snap_t *sn)
{
    int i;

    auto_summary(r, sn);
    for (i = 0; i < sn->nclasses; i++) {
        auto_class(r, &sn->classes[i]);
    }
}

/* ------------------------------------------------------------------ */
/* The handler and mod_status's hook                                   */
/* ------------------------------------------------------------------ */

/* Whether the query string has @word as a parameter ("json",
 * "json=1", "x&json"). */
static int has_arg(const char *args, const char *word)
{
    size_t len = strlen(word);

    while (args && *args) {
        if (strncmp(args, word, len) == 0
            && (args[len] == '\0' || args[len] == '&' || args[len] == ';'
                || args[len] == '=')) {
            return 1;
        }
        args += strcspn(args, "&;");
        args += *args != '\0';
    }
    return 0;
}

static int status_handler(request_rec *r)
{
    int json, plain;

    if (r->handler == NULL || strcmp(r->handler, FCGIX_STATUS_HANDLER)) {
        return DECLINED;
    }
    json = has_arg(r->args, "json");
    plain = !json && has_arg(r->args, "auto");
    /* The Allow header of a 405 comes from allowed_methods */
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
    r->allowed = AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED; /* a HEAD is an M_GET */
    }
    ap_set_content_type(r, json    ? "application/json"
                           : plain ? "text/plain; charset=us-ascii"
                                   : "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    if (r->header_only) {
        return OK;
    }
    if (json) {
        json_page(r, take_snapshot(r));
    }
    else if (plain) {
        auto_page(r, take_snapshot(r));
    }
    else {
        html_page(r, take_snapshot(r));
    }
    return OK;
}

/* mod_status's server-status: the summary lines for ?auto, else the
 * HTML sections (only the summary for ?notable). */
static int status_hook(request_rec *r, int flags)
{
    snap_t *sn = take_snapshot(r);

    if (flags & AP_STATUS_SHORT) {
        auto_summary(r, sn);
        return OK;
    }
    ap_rputs("<hr />\n<h2>FastCGI (mod_fastcgi_x)</h2>\n", r);
    if (flags & AP_STATUS_NOTABLE) {
        html_pm(r, sn);
        ap_rprintf(r, "<p>%d classes, %d processes, %d busy.</p>\n",
                   sn->nclasses, sn->total.processes, sn->total.busy);
        return OK;
    }
    html_sections(r, sn);
    return OK;
}

static apr_status_t forget(void *data)
{
    (void)data;
    board = NULL;
    registry = NULL;
    return APR_SUCCESS;
}

void fcgix_status_init(apr_pool_t *pconf, fcgix_sb_t *sb, apr_hash_t *apps)
{
    board = sb;
    registry = apps;
    apr_pool_cleanup_register(pconf, NULL, forget, apr_pool_cleanup_null);
}

void fcgix_status_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
