/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_balance.c
 * @brief Balanced external servers (see fcgi_balance.h).
 */

#include <arpa/inet.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apr_shm.h"
#include "apr_strings.h"
#include "apr_time.h"

#include "httpd.h"
#include "http_log.h"
#include "http_core.h"
#include "ap_mpm.h"

#include "fcgi_balance.h"
#include "fcgi_balance_int.h"
#include "fcgi_defaults.h"
#include "fcgi_futex.h"
#include "fcgi_launch.h"
#include "fcgi_build.h"
#include "fcgi_log.h"

FCGIX_USE_LOG_MODULE;

/* The board lives in httpd's process pool, which outlives every
 * configuration: a graceful restart keeps what it knows. */
#define BOARD_KEY "fcgix_lb_board"
/* The least a new board holds, so that a restart that adds a few members
 * keeps the board (and its history). */
#define BOARD_MIN 64
typedef fcgix_balanced_t balanced_t;

/* One member as the configuration gives it, before it has a record. */
typedef struct {
    const fcgix_app_t *app;
    const char *address; /* "ip:port", "[ip6]:port" or a socket path;
                            NULL: a record kept for a name's next address */
    const char *ip;      /* TCP: the address's IP, else NULL */
    int port;
    apr_sockaddr_t *sa; /* TCP: the address alone */
    int backup;
    fcgix_lb_name_t *name; /* the re-resolved name it came from, or NULL */
} member_spec_t;

/* A board, in httpd's process pool; older ones (a configuration that
 * needed a bigger one) stay, as their holders may still need reclaiming. */
typedef struct board_store_t {
    fcgix_lb_t lb;
    fcgix_holds_t holds; /* what requests hold places on members */
    struct board_store_t *older;
} board_store_t;

static fcgix_lb_t board;                /* this generation's handle */
static fcgix_holds_t holds;             /* and its holder records */
static apr_hash_t *balanced;            /* app path -> balanced_t */
static apr_array_header_t *all_members; /* const fcgix_app_t * */

int64_t fcgix_balance_now_ms(void)
{
    return (int64_t)apr_time_as_msec(apr_time_now());
}

/* ------------------------------------------------------------------ */
/* Members from the configuration (parent)                             */
/* ------------------------------------------------------------------ */

static int known_address(const apr_array_header_t *specs,
                         const fcgix_app_t *app, const char *address)
{
    int i;

    for (i = 0; i < specs->nelts; i++) {
        const member_spec_t *m = &APR_ARRAY_IDX(specs, i, member_spec_t);

        if (m->app == app && m->address && !strcmp(m->address, address)) {
            return 1;
        }
    }
    return 0;
}

static const char *address_text(apr_pool_t *p, apr_sockaddr_t *sa,
                                const char **ip)
{
    char *text = NULL;

    apr_sockaddr_ip_get(&text, sa);
    *ip = text;
    return sa->family == APR_INET6
               ? apr_psprintf(p, "[%s]:%d", text, (int)sa->port)
               : apr_psprintf(p, "%s:%d", text, (int)sa->port);
}

static int is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, host, buf) == 1
           || inet_pton(AF_INET6, host, buf) == 1;
}

static member_spec_t *new_spec(apr_array_header_t *out, const fcgix_app_t *app,
                               int backup, fcgix_lb_name_t *name)
{
    member_spec_t *m = apr_array_push(out);

    memset(m, 0, sizeof(*m));
    m->app = app;
    m->backup = backup;
    m->name = name;
    return m;
}

/* The addresses @host has now, each a member; at most @max of them. */
static int add_addresses(apr_pool_t *p, server_rec *s, const fcgix_app_t *app,
                         const char *spec, const char *host, apr_port_t port,
                         int backup, fcgix_lb_name_t *name, int max,
                         apr_array_header_t *out)
{
    apr_sockaddr_t *sa, *next;
    apr_status_t rv = apr_sockaddr_info_get(&sa, host, APR_UNSPEC, port, 0, p);
    int n = 0;

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     FCGIX_LOGNO(00800) "FastCgiExternalServer %s (%s): "
                                        "cannot resolve %s; it has no "
                                        "member until it resolves",
                     app->path, app->defined_at, spec);
        return 0;
    }
    for (; sa != NULL && n < max; sa = next) {
        member_spec_t *m;
        const char *ip, *address = address_text(p, sa, &ip);

        next = sa->next;
        sa->next = NULL; /* each member connects to its address alone */
        if (known_address(out, app, address)) {
            continue;
        }
        m = new_spec(out, app, backup, name);
        m->address = address;
        m->ip = ip;
        m->port = port;
        m->sa = sa;
        n++;
    }
    return n;
}

/* A -host or -backup host:port: a member for every address the name has
 * now. A name that -resolve-interval resolves again also gets records
 * kept for the addresses it may have later. */
static void add_host(apr_pool_t *p, server_rec *s, balanced_t *b,
                     const char *spec, int backup, apr_array_header_t *out)
{
    const fcgix_app_t *app = b->app;
    fcgix_lb_name_t *name = NULL;
    char *host, *scope;
    apr_port_t port;
    int n, max = FCGIX_LB_MAX_MEMBERS;

    if (apr_parse_addr_port(&host, &scope, &port, spec, p) != APR_SUCCESS
        || host == NULL) {
        return; /* checked with the configuration */
    }
    if (b->resolve_interval_ms > 0 && !is_ip_literal(host)) {
        name = &b->names[b->nnames++];
        name->spec = spec;
        name->host = host;
        name->port = port;
        name->backup = backup;
        max = FCGIX_LB_NAME_SLOTS;
    }
    n = add_addresses(p, s, app, spec, host, port, backup, name, max, out);
    for (; name && n < FCGIX_LB_NAME_SLOTS; n++) {
        new_spec(out, app, backup, name);
    }
}

static void add_socket(const fcgix_app_t *app, const char *path, int backup,
                       apr_array_header_t *out)
{
    new_spec(out, app, backup, NULL)->address = path;
}

/* Every member of @app: primaries in the order given, then backups. */
static void collect_members(apr_pool_t *p, server_rec *s, balanced_t *b,
                            apr_array_header_t *out)
{
    const fcgix_app_t *app = b->app;
    const fcgix_lb_conf_t *lb = &app->lb;
    const apr_array_header_t *lists[2];
    int tcp = lb->hosts != NULL, backup, i;

    lists[0] = tcp ? lb->hosts : lb->sockets;
    lists[1] = lb->backups;
    for (backup = 0; backup < 2; backup++) {
        for (i = 0; lists[backup] && i < lists[backup]->nelts; i++) {
            const char *item = APR_ARRAY_IDX(lists[backup], i, const char *);

            if (tcp) {
                add_host(p, s, b, item, backup, out);
            }
            else {
                add_socket(app, item, backup, out);
            }
        }
    }
}

/* The app a request connects to for member @m of @app; NULL for a
 * record kept for a name's next address. */
static const fcgix_app_t *member_app(apr_pool_t *p, const fcgix_app_t *app,
                                     const member_spec_t *m)
{
    fcgix_app_t *one;

    if (m->address == NULL) {
        return NULL;
    }
    one = apr_pmemdup(p, app, sizeof(*app));
    one->lb.on = 0;
    if (one->opts.conn_timeout == FCGIX_UNSET) {
        one->opts.conn_timeout = FCGIX_DEFAULT_BALANCED_CONN_TIMEOUT;
    }
    one->host = m->ip;
    one->port = m->port;
    one->addr = m->sa;
    one->socket_path = m->sa ? NULL : m->address;
    return one;
}

const fcgix_app_t *fcgix_balance_member_app(apr_pool_t *p,
                                            const fcgix_app_t *app,
                                            const char *address)
{
    member_spec_t m;
    char *host, *scope;
    apr_port_t port;

    memset(&m, 0, sizeof(m));
    if (apr_parse_addr_port(&host, &scope, &port, address, p) != APR_SUCCESS
        || host == NULL || port == 0 || !is_ip_literal(host)
        || apr_sockaddr_info_get(&m.sa, host, APR_UNSPEC, port, 0, p)
               != APR_SUCCESS) {
        return NULL;
    }
    m.sa->next = NULL;
    m.address = address;
    m.ip = host;
    m.port = port;
    return member_app(p, app, &m);
}

/* ------------------------------------------------------------------ */
/* The board (parent)                                                  */
/* ------------------------------------------------------------------ */

/* The board from the last configuration if it has room for @need
 * records, else a new one (what the old one knew is carried over by
 * assign_records). */
static board_store_t *board_for(server_rec *s, int need, board_store_t **old)
{
    apr_pool_t *pp = s->process->pool;
    board_store_t *store = NULL;
    apr_shm_t *shm;
    apr_status_t rv;
    int cap = need * 2 > BOARD_MIN ? need * 2 : BOARD_MIN;
    int holders = fcgix_launch_holder_records();
    char *mem;

    apr_pool_userdata_get((void **)&store,
                          fcgix_build_key(s->process->pconf, BOARD_KEY), pp);
    *old = NULL;
    if (store && store->lb.nmembers >= need && store->holds.n >= holders) {
        return store;
    }
    rv = apr_shm_create(&shm, fcgix_lb_size(cap) + fcgix_holds_size(holders),
                        NULL, pp);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s,
                     FCGIX_LOGNO(00805) "cannot create shared memory for "
                                        "the members of balanced "
                                        "FastCgiExternalServers (%d)",
                     cap);
        return NULL;
    }
    *old = store;
    store = apr_pcalloc(pp, sizeof(*store));
    store->older = *old;
    mem = apr_shm_baseaddr_get(shm);
    fcgix_lb_init(&store->lb, mem, cap);
    fcgix_holds_init(&store->holds, mem + fcgix_lb_size(cap), holders);
    apr_pool_userdata_set(store, fcgix_build_key(s->process->pconf, BOARD_KEY),
                          apr_pool_cleanup_null, pp);
    return store;
}

static void give_back(void *lb, int32_t record)
{
    fcgix_lb_leave(lb, record);
    fcgix_balance_wake(lb);
}

/* The waits below are futexes on the board's "freed" word. */
void fcgix_balance_wake(fcgix_lb_t *lb)
{
    if (lb->head && __atomic_load_n(&lb->head->waiters, __ATOMIC_ACQUIRE) > 0) {
        fcgix_futex_wake(&lb->head->freed, INT_MAX);
    }
}

void fcgix_balance_wait(fcgix_lb_t *lb, uint32_t seen, int ms)
{
    __atomic_add_fetch(&lb->head->waiters, 1, __ATOMIC_ACQ_REL);
    fcgix_futex_wait_ms(&lb->head->freed, seen, ms); /* at once: freed */
    __atomic_sub_fetch(&lb->head->waiters, 1, __ATOMIC_ACQ_REL);
}

/* child_status, in httpd's parent: a child that exited mid-request never
 * gave its places on members back; give them back now, on every board
 * it may have used. */
static void child_exited(server_rec *s, pid_t pid, ap_generation_t gen,
                         int slot, mpm_child_status state)
{
    board_store_t *store = NULL;
    int n = 0;

    (void)gen;
    (void)slot;
    if (state != MPM_CHILD_EXITED) {
        return;
    }
    apr_pool_userdata_get((void **)&store,
                          fcgix_build_key(s->process->pconf, BOARD_KEY),
                          s->process->pool);
    for (; store; store = store->older) {
        n += fcgix_holds_reclaim(&store->holds, (int32_t)pid, give_back,
                                 &store->lb);
    }
    if (n > 0) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     FCGIX_LOGNO(00822) "httpd child %d exited with %d "
                                        "request(s) to balanced "
                                        "FastCgiExternalServers in flight; "
                                        "their members count them no more",
                     (int)pid, n);
    }
}

void fcgix_balance_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_child_status(child_exited, NULL, NULL, APR_HOOK_MIDDLE);
}

/* The record that already holds (path, address) and is not taken, or
 * -1. Keys are compared as the record keeps them (cut to its size). */
static int find_record(const fcgix_lb_t *lb, const char *taken,
                       const member_spec_t *m)
{
    int i;

    for (i = 0; i < lb->nmembers; i++) {
        const fcgix_lb_member_t *r = &lb->members[i];

        if (m->address != NULL && !taken[i]
            && __atomic_load_n(&r->used, __ATOMIC_ACQUIRE) == 1
            && !strncmp(r->path, m->app->path, sizeof(r->path) - 1)
            && !strncmp(r->address, m->address, sizeof(r->address) - 1)) {
            return i;
        }
    }
    return -1;
}

/* A record for a new member: a free one first, then one whose member is
 * gone. */
static int free_record(const fcgix_lb_t *lb, const char *taken)
{
    int i, stale = -1;

    for (i = 0; i < lb->nmembers; i++) {
        if (taken[i]) {
            continue;
        }
        if (__atomic_load_n(&lb->members[i].used, __ATOMIC_ACQUIRE) == 0) {
            return i;
        }
        if (stale < 0) {
            stale = i;
        }
    }
    return stale;
}

/* Give each member a record: the one that held it before, when the board
 * is the same; else a fresh one, with the history an @old board had. */
static void assign_records(fcgix_lb_t *lb, const fcgix_lb_t *old,
                           const apr_array_header_t *specs, int *records,
                           char *taken)
{
    int i;

    for (i = 0; i < specs->nelts; i++) {
        records[i] =
            find_record(lb, taken, &APR_ARRAY_IDX(specs, i, member_spec_t));
        if (records[i] >= 0) {
            taken[records[i]] = 1;
        }
    }
    for (i = 0; i < specs->nelts; i++) {
        const member_spec_t *m = &APR_ARRAY_IDX(specs, i, member_spec_t);

        if (records[i] < 0) {
            records[i] = free_record(lb, taken);
            taken[records[i]] = 1;
            fcgix_lb_set(lb, records[i], m->app->path,
                         m->address ? m->address : "", m->backup);
            if (m->address == NULL) {
                fcgix_lb_readdress(lb, records[i], NULL); /* kept, empty */
            }
            else if (old) {
                fcgix_lb_carry(lb, records[i], old);
            }
        }
        lb->members[records[i]].backup = (uint32_t)m->backup;
        if (m->name) {
            fcgix_lb_resolved(lb, records[i], m->name->spec,
                              fcgix_balance_now_ms());
        }
    }
    for (i = 0; i < lb->nmembers; i++) {
        if (!taken[i]) {
            fcgix_lb_clear(lb, i);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Setup (parent)                                                      */
/* ------------------------------------------------------------------ */

/* -resolve-interval and -health-check. */
static void set_watching(balanced_t *b, apr_pool_t *p,
                         const fcgix_app_opts_t *o)
{
    const fcgix_lb_conf_t *lb = &b->app->lb;

    if (lb->resolve_interval > 0) {
        b->resolve_interval_ms = 1000 * lb->resolve_interval;
        b->names = apr_pcalloc(
            p, sizeof(*b->names)
                   * (apr_size_t)(lb->hosts->nelts
                                  + (lb->backups ? lb->backups->nelts : 0)));
    }
    b->health_uri = lb->health_check;
    b->health_interval_ms = lb->health_interval > 0
                                ? 1000 * lb->health_interval
                                : FCGIX_LB_HEALTH_INTERVAL_MS;
    b->health_timeout_ms = o->conn_timeout > 0 ? 1000 * o->conn_timeout
                                               : FCGIX_LB_HEALTH_TIMEOUT_MS;
}

static balanced_t *new_balanced(apr_pool_t *p, const fcgix_app_t *app)
{
    balanced_t *b = apr_pcalloc(p, sizeof(*b));
    fcgix_app_opts_t o = fcgix_app_effective(&app->opts);
    int q = app->lb.queue_timeout;

    if (app->opts.conn_timeout == FCGIX_UNSET) {
        o.conn_timeout = FCGIX_DEFAULT_BALANCED_CONN_TIMEOUT;
    }

    b->app = app;
    set_watching(b, p, &o);
    b->g.method = fcgix_lb_conf_method(&app->lb);
    b->g.max_fails = app->lb.max_fails != FCGIX_UNSET ? app->lb.max_fails
                                                      : FCGIX_DEFAULT_MAX_FAILS;
    b->g.fail_timeout_ms =
        1000
        * (app->lb.fail_timeout != FCGIX_UNSET ? app->lb.fail_timeout
                                               : FCGIX_DEFAULT_FAIL_TIMEOUT);
    /* -max-conns caps members only when given (its default is the size
     * of the kept-connection pool). */
    b->g.max_conns = app->opts.max_conns > 0 ? app->opts.max_conns : 0;
    /* A trial whose request never ended (its process died) is handed on
     * after the longest a request can wait for the member. */
    b->g.trial_timeout_ms = 1000
                            * ((o.conn_timeout > 0 ? o.conn_timeout : 300)
                               + (o.idle_timeout > 0 ? o.idle_timeout : 300));
    if (q == FCGIX_UNSET) {
        q = FCGIX_DEFAULT_QUEUE_TIMEOUT;
    }
    b->queue_timeout_ms = 1000 * q;
    return b;
}

/* The balanced apps of @registry, each with its members. */
static apr_array_header_t *collect_all(apr_pool_t *p, server_rec *s,
                                       apr_hash_t *registry)
{
    apr_array_header_t *specs = apr_array_make(p, 16, sizeof(member_spec_t));
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(p, registry); hi; hi = apr_hash_next(hi)) {
        const fcgix_app_t *app = apr_hash_this_val(hi);

        if (app->kind == FCGIX_APP_EXTERNAL && app->lb.on) {
            balanced_t *b = new_balanced(p, app);

            apr_hash_set(balanced, app->path, APR_HASH_KEY_STRING, b);
            collect_members(p, s, b, specs);
        }
    }
    return specs;
}

static uint32_t board_gen(int i)
{
    fcgix_lb_member_t *m = fcgix_lb_member(&board, i);

    return m ? __atomic_load_n(&m->gen, __ATOMIC_ACQUIRE) : 0;
}

/* Give each balanced app its records and member apps. */
static void build_groups(apr_pool_t *p, const apr_array_header_t *specs,
                         const int *records)
{
    apr_hash_index_t *hi;
    int i;

    for (hi = apr_hash_first(p, balanced); hi; hi = apr_hash_next(hi)) {
        balanced_t *b = apr_hash_this_val(hi);
        int *mine = apr_pcalloc(p, sizeof(int) * (apr_size_t)specs->nelts + 1);

        b->members = apr_pcalloc(p, sizeof(*b->members)
                                        * (apr_size_t)(specs->nelts + 1));
        b->member_gen = apr_pcalloc(p, sizeof(*b->member_gen)
                                           * (apr_size_t)(specs->nelts + 1));
        for (i = 0; i < specs->nelts; i++) {
            const member_spec_t *m = &APR_ARRAY_IDX(specs, i, member_spec_t);

            if (m->app != b->app || b->g.n >= FCGIX_LB_MAX_MEMBERS) {
                continue;
            }
            if (m->name && m->name->count++ == 0) {
                m->name->first = b->g.n;
            }
            mine[b->g.n] = records[i];
            b->member_gen[b->g.n] = board_gen(records[i]);
            b->members[b->g.n] = member_app(p, b->app, m);
            if (b->members[b->g.n]) {
                APR_ARRAY_PUSH(all_members, const fcgix_app_t *) =
                    b->members[b->g.n];
            }
            b->g.n++;
        }
        b->g.records = mine;
    }
}

static const char *const method_names[] = {"least-conn", "round-robin",
                                           "first"};

static void log_groups(apr_pool_t *p, server_rec *s)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(p, balanced); hi; hi = apr_hash_next(hi)) {
        const balanced_t *b = apr_hash_this_val(hi);

        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     FCGIX_LOGNO(00809) "FastCgiExternalServer %s (%s): "
                                        "%d member(s), -balance %s",
                     b->app->path, b->app->defined_at, b->g.n,
                     method_names[b->g.method]);
    }
}

int fcgix_balance_post_config(apr_pool_t *pconf, server_rec *s,
                              apr_hash_t *registry)
{
    apr_array_header_t *specs;
    board_store_t *store, *old;
    int *records;
    char *taken;

    balanced = apr_hash_make(pconf);
    all_members = apr_array_make(pconf, 8, sizeof(const fcgix_app_t *));
    memset(&board, 0, sizeof(board));
    memset(&holds, 0, sizeof(holds));
    /* The first configuration pass only checks; resolve nothing. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    specs = collect_all(pconf, s, registry);
    if (apr_hash_count(balanced) == 0) {
        return OK;
    }
    store = board_for(s, specs->nelts, &old);
    if (store == NULL) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    records = apr_pcalloc(pconf, sizeof(int) * (apr_size_t)(specs->nelts + 1));
    taken = apr_pcalloc(pconf, (apr_size_t)store->lb.nmembers);
    assign_records(&store->lb, old ? &old->lb : NULL, specs, records, taken);
    board = store->lb;
    holds = store->holds;
    build_groups(pconf, specs, records);
    log_groups(pconf, s);
    return OK;
}

void fcgix_balance_member_apps(apr_array_header_t *apps)
{
    int i;

    for (i = 0; all_members && i < all_members->nelts; i++) {
        APR_ARRAY_PUSH(apps, const fcgix_app_t *) =
            APR_ARRAY_IDX(all_members, i, const fcgix_app_t *);
    }
}

fcgix_lb_t *fcgix_balance_board(void)
{
    return &board;
}

fcgix_holds_t *fcgix_balance_holds(void)
{
    return &holds;
}

apr_hash_t *fcgix_balance_all(void)
{
    return balanced;
}

int fcgix_balance_needs_watcher(void)
{
    apr_hash_index_t *hi;

    for (hi = balanced ? apr_hash_first(NULL, balanced) : NULL; hi;
         hi = apr_hash_next(hi)) {
        const balanced_t *b = apr_hash_this_val(hi);

        if (b->nnames > 0 || b->health_uri) {
            return 1;
        }
    }
    return 0;
}

balanced_t *fcgix_balance_of(const fcgix_app_t *app)
{
    return balanced ? apr_hash_get(balanced, app->path, APR_HASH_KEY_STRING)
                    : NULL;
}

int fcgix_balance_is(const fcgix_app_t *app)
{
    /* Set by the configuration check; post_config gives every such app
     * its members (the request path answers 503 for one without). */
    return app->lb.on;
}

int fcgix_balance_view(const fcgix_app_t *app, const fcgix_lb_t **lb,
                       fcgix_lb_group_t *g)
{
    balanced_t *b = app->lb.on ? fcgix_balance_of(app) : NULL;

    if (b == NULL) {
        return 0;
    }
    *lb = &board;
    *g = b->g;
    return 1;
}
