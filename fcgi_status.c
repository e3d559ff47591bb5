/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_status.c
 * @brief The fastcgi-status page and the FastCGI section of mod_status:
 *        the snapshot, the words the renderers share, the handler.
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

#include "fcgi_balance.h"
#include "fcgi_config.h"
#include "fcgi_conns.h"
#include "fcgi_lb.h"
#include "fcgi_stats.h"
#include "fcgi_status.h"
#include "fcgi_status_int.h"

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)

/* This generation's board (NULL: no PM) and apps; set in post_config,
 * read-only afterwards (children inherit them). */
static fcgix_sb_t *board;
static apr_hash_t *registry;

/* ------------------------------------------------------------------ */
/* The snapshot                                                        */
/* ------------------------------------------------------------------ */

/** Whose applications a page shows: every one (FastCgiStatusShowAll
 *  On), or those of the request's virtual host, so that a tenant's
 *  .htaccess page does not list other tenants' apps, pids and sockets. */
typedef struct {
    int all;
    const server_rec *server; /* the request's host */
    const char *docroot;      /* its DocumentRoot, for dynamic apps */
    size_t docroot_len;       /* without trailing slashes */
    int own;                  /* its host index (the board's tenant - 1) */
} view_t;

static view_t view_of(request_rec *r)
{
    const fcgix_srv_conf_t *conf = fcgix_srv_conf(r->server);
    view_t v;

    v.all = conf->status_show_all == 1;
    v.server = r->server;
    v.own = fcgix_status_own_host(r->server);
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

int fcgix_status_has_process(const proc_snap_t *ps)
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
    if (fcgix_status_has_process(ps)) {
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
    sum->processes += fcgix_status_has_process(ps);
    sum->busy += fcgix_status_has_process(ps) && ps->users > 0;
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
    unsigned tenant;
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
    tenant = fcgix_status_snap_key(p, k, cs);
    /* An fcgid class belongs to the host whose requests started it. */
    if (tenant ? !v->all && tenant != (unsigned)v->own + 1
               : !shows(v, cs->kind, cs->path)) {
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

/* Member @rec of the board: every word through an atomic load, strings
 * bounded (any process of httpd's User can write the board). */
static void snap_member(const fcgix_lb_t *lb, int rec, int64_t now,
                        member_snap_t *ms)
{
    const fcgix_lb_member_t *m = fcgix_lb_member(lb, rec);
    int64_t since;

    if (m == NULL) {
        return;
    }
    copy_text(ms->address, m->address, sizeof(ms->address));
    ms->state = fcgix_lb_state(lb, rec, now);
    ms->backup = LOAD(&m->backup) != 0;
    ms->in_flight = LOAD(&m->in_flight);
    ms->in_flight = ms->in_flight < 0 ? 0 : ms->in_flight;
    ms->served = LOAD(&m->served);
    ms->failures = LOAD(&m->failures);
    since = LOAD(&m->since_ms);
    ms->since_ms = since > 0 ? not_negative(now - since) : -1;
    if (LOAD(&m->last_error_ms) != 0) {
        copy_text(ms->last_error, m->last_error, sizeof(ms->last_error));
    }
    since = LOAD(&m->resolved_ms);
    ms->resolved_ms = since > 0 ? not_negative(now - since) : -1;
    if (since > 0) {
        copy_text(ms->name, m->name, sizeof(ms->name));
    }
}

/* The members of a balanced external server, in the order configured
 * (the group, in private memory, says which records are its own). */
static void snap_members(apr_pool_t *p, const fcgix_app_t *app, int64_t now,
                         class_snap_t *cs)
{
    const fcgix_lb_t *lb;
    fcgix_lb_group_t g;
    int k;

    if (!fcgix_balance_view(app, &lb, &g)) {
        return;
    }
    cs->balanced = 1;
    cs->members = apr_pcalloc(p, sizeof(member_snap_t) * (size_t)(g.n + 1));
    for (k = 0; k < g.n; k++) {
        const fcgix_lb_member_t *m = fcgix_lb_member(lb, g.records[k]);

        /* not a record kept for a name's next address */
        if (m != NULL && LOAD(&m->used) == 1) {
            snap_member(lb, g.records[k], now, &cs->members[cs->nmembers++]);
        }
    }
}

/* The FastCgiExternalServer apps in @v, by path, appended to @sn. */
static void snap_externals(apr_pool_t *p, const view_t *v, int64_t now,
                           snap_t *sn)
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
        cs->path = cs->label = app->path;
        cs->uid = -1;
        cs->address = address_of(p, app);
        cs->sum.kept = fcgix_conns_idle_count(app);
        snap_members(p, app, now, cs);
        sn->nclasses++;
    }
    qsort(sn->classes + first, (size_t)(sn->nclasses - first),
          sizeof(class_snap_t), by_path);
}

void fcgix_status_add_counts(counts_t *total, const counts_t *c)
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

static int has_class(const snap_t *sn, const char *label)
{
    int c;

    for (c = 0; c < sn->nclasses; c++) {
        if (!strcmp(sn->classes[c].label, label)) {
            return 1;
        }
    }
    return 0;
}

/* Whether the record @label of a dynamic app is in @v: an fcgid
 * class's by the host its label names, another's by its path. */
static int shows_record(apr_pool_t *p, const view_t *v, const char *label)
{
    const char *host = fcgix_status_label_host(p, label);

    if (host == NULL || v->all) {
        return shows(v, FCGIX_APP_DYNAMIC, label);
    }
    return strcmp(host, fcgix_status_host_name(p, v->own)) == 0;
}

/* For ?metrics: the dynamic apps in @v with a record but no class (their
 * processes were stopped while idle), so that their counters do not
 * come and go with their processes. */
static void snap_records(apr_pool_t *p, const view_t *v, snap_t *sn)
{
    apr_array_header_t *paths = fcgix_stats_dynamic_paths(p);
    int i;

    sn->records =
        apr_pcalloc(p, sizeof(class_snap_t) * (size_t)(paths->nelts + 1));
    for (i = 0; i < paths->nelts; i++) {
        const char *path = APR_ARRAY_IDX(paths, i, const char *);
        class_snap_t *cs = &sn->records[sn->nrecords];

        if (has_class(sn, path)
            || (registry && apr_hash_get(registry, path, APR_HASH_KEY_STRING))
            || !shows_record(p, v, path)) {
            continue;
        }
        cs->kind = FCGIX_APP_DYNAMIC;
        cs->path = cs->label = path;
        cs->uid = -1;
        cs->sum.kept = -1;
        cs->has_stats = fcgix_stats_view(path, &cs->stats);
        sn->nrecords += cs->has_stats;
    }
}

/* What the page for @r shows: the apps in its view (view_of); with
 * @records, also the records ?metrics shows (snap_records). */
static snap_t *take_snapshot(request_rec *r, int records)
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
        snap_externals(p, &v, now, sn);
    }
    if (!v.all) {
        /* Requests for an app without a class yet: no host to name. */
        sn->waiting_new = 0;
    }
    for (c = 0; c < sn->nclasses; c++) {
        class_snap_t *cs = &sn->classes[c];

        fcgix_status_add_counts(&sn->total, &cs->sum);
        cs->has_stats = fcgix_stats_view(cs->label, &cs->stats);
    }
    fcgix_status_snap_tenants(p, sb, v.all, v.own, sn);
    sn->total.waiting += sn->waiting_new;
    if (records) {
        snap_records(p, &v, sn);
    }
    return sn;
}

/* ------------------------------------------------------------------ */
/* Words and numbers shared by the renderers                           */
/* ------------------------------------------------------------------ */

const char *fcgix_status_kind_name(fcgix_app_kind_t kind)
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
const char *fcgix_status_state_name(const proc_snap_t *ps)
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

const char *fcgix_status_problem_name(uint32_t hung)
{
    return hung == FCGIX_SB_HUNG          ? "not answering"
           : hung == FCGIX_SB_UNREACHABLE ? "unreachable"
                                          : NULL;
}

const char *fcgix_status_member_state(fcgix_lb_state_t state)
{
    return state == FCGIX_LB_UP     ? "up"
           : state == FCGIX_LB_DOWN ? "down"
                                    : "trial";
}

const char *const fcgix_status_error_names[FCGIX_NERR] = {
    "connect", "timeout", "protocol", "app_5xx"};

const char *fcgix_status_usec(apr_pool_t *p, int64_t us, const char *none)
{
    return us < 0 ? none : apr_psprintf(p, "%.6f", (double)us / 1e6);
}

size_t fcgix_status_utf8_len(const unsigned char *s)
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

/* Seconds with millisecond precision, or @none. */
const char *fcgix_status_seconds(apr_pool_t *p, int64_t ms, const char *none)
{
    return ms < 0 ? none : apr_psprintf(p, "%.3f", (double)ms / 1000.0);
}

const char *fcgix_status_u64(apr_pool_t *p, uint64_t v)
{
    return apr_psprintf(p, "%" APR_UINT64_T_FMT, (apr_uint64_t)v);
}

const fcgix_status_count_name_t fcgix_status_count_names[NCOUNTS] = {
    {"processes", "processes", "FastCGIProcesses"},
    {"busy", "busy", "FastCGIBusyProcesses"},
    {"idle", "idle", "FastCGIIdleProcesses"},
    {"requests served", "requests", "FastCGIRequestsServed"},
    {"waiting requests", "waiting", "FastCGIWaitingRequests"},
    {"failed starts", "failed_starts", "FastCGIFailedStarts"},
    {"restarts", "restarts", "FastCGIRestarts"},
    {"kept connections (this httpd child)", "kept_connections",
     "FastCGIKeptConnections"}};

void fcgix_status_count_texts(apr_pool_t *p, const counts_t *c,
                              const char *no_kept, const char *out[NCOUNTS])
{
    out[COUNT_PROCESSES] = apr_itoa(p, c->processes);
    out[COUNT_BUSY] = apr_itoa(p, c->busy);
    out[COUNT_IDLE] = apr_itoa(p, c->processes - c->busy);
    out[COUNT_REQUESTS] = fcgix_status_u64(p, c->requests);
    out[COUNT_WAITING] = fcgix_status_u64(p, c->waiting);
    out[COUNT_FAILED_STARTS] = fcgix_status_u64(p, c->failed_starts);
    out[COUNT_RESTARTS] = fcgix_status_u64(p, c->restarts);
    out[COUNT_KEPT] = c->kept < 0 ? no_kept : apr_itoa(p, c->kept);
}

/* ------------------------------------------------------------------ */
/* The handler and mod_status's hook                                   */
/* ------------------------------------------------------------------ */

/* Where @word's parameter in the query string starts ("json", "json=1",
 * "x&json"), or NULL. */
static const char *find_arg(const char *args, const char *word)
{
    size_t len = strlen(word);

    while (args && *args) {
        if (strncmp(args, word, len) == 0
            && (args[len] == '\0' || args[len] == '&' || args[len] == ';'
                || args[len] == '=')) {
            return args;
        }
        args += strcspn(args, "&;");
        args += *args != '\0';
    }
    return NULL;
}

static int has_arg(const char *args, const char *word)
{
    return find_arg(args, word) != NULL;
}

/* ?refresh=N: N seconds, 1 to 3600; 0 (none) when N is not a number. */
static int refresh_arg(const char *args)
{
    const char *v = find_arg(args, "refresh");
    char *end;
    long n;

    if (v == NULL || v[7] != '=') {
        return 0;
    }
    v += 8;
    n = strtol(v, &end, 10);
    if (end == v || (*end != '\0' && *end != '&' && *end != ';')) {
        return 0;
    }
    return n < 1 ? 1 : n > 3600 ? 3600 : (int)n;
}

/* The page in the format the query string asks for. */
static void render(request_rec *r, int json, int metrics, int plain)
{
    if (json) {
        fcgix_status_json_page(r, take_snapshot(r, 0));
    }
    else if (metrics) {
        fcgix_status_metrics_page(r, take_snapshot(r, 1));
    }
    else if (plain) {
        fcgix_status_auto_page(r, take_snapshot(r, 0));
    }
    else {
        fcgix_status_html_page(r, take_snapshot(r, 0), refresh_arg(r->args));
    }
}

static int status_handler(request_rec *r)
{
    int json, metrics, plain;

    if (r->handler == NULL || strcmp(r->handler, FCGIX_STATUS_HANDLER)) {
        return DECLINED;
    }
    json = has_arg(r->args, "json");
    metrics = !json && has_arg(r->args, "metrics");
    plain = !json && !metrics && has_arg(r->args, "auto");
    /* The Allow header of a 405 comes from allowed_methods */
    ap_allow_standard_methods(r, REPLACE_ALLOW, M_GET, -1);
    r->allowed = AP_METHOD_BIT << M_GET;
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED; /* a HEAD is an M_GET */
    }
    ap_set_content_type(r, json ? "application/json"
                           : metrics
                               ? "text/plain; version=0.0.4; charset=utf-8"
                           : plain ? "text/plain; charset=us-ascii"
                                   : "text/html; charset=utf-8");
    apr_table_setn(r->headers_out, "Cache-Control", "no-cache");
    if (!r->header_only) {
        render(r, json, metrics, plain);
    }
    return OK;
}

/* mod_status's server-status: the summary lines for ?auto, else the
 * HTML sections (only the summary for ?notable). */
static int status_hook(request_rec *r, int flags)
{
    snap_t *sn = take_snapshot(r, 0);

    if (flags & AP_STATUS_SHORT) {
        fcgix_status_auto_summary(r, sn);
        return OK;
    }
    ap_rputs("<hr />\n<h2>FastCGI (mod_fastcgi_x)</h2>\n", r);
    if (flags & AP_STATUS_NOTABLE) {
        fcgix_status_html_pm(r, sn);
        ap_rprintf(r, "<p>%d classes, %d processes, %d busy.</p>\n",
                   sn->nclasses, sn->total.processes, sn->total.busy);
        return OK;
    }
    fcgix_status_html_sections(r, sn);
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
