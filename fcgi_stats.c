/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_stats.c
 * @brief Per-application request statistics (see fcgi_stats.h): the
 *        tally's table (fcgi_tally.c) in shared memory made in httpd's
 *        parent, its records found for requests, read for the status
 *        page.
 *
 * The table lives in httpd's process pool, which outlives every
 * configuration, so a graceful restart keeps the counts (the children of
 * both generations count into it). A configuration with more apps than
 * half the table holds gets a larger one, with every record's counts
 * carried over (not their recent windows). The configured apps' record
 * indices are kept in each process's private memory; a dynamic app's
 * record is found by its path, and claimed by its first request.
 */

#include <string.h>
#include <unistd.h>

#include "apr_shm.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"
#include "apr_time.h"

#include "httpd.h"
#include "http_core.h"
#include "http_log.h"

#include "ap_mpm.h"

#include "fcgi_config.h"
#include "fcgi_hold.h"
#include "fcgi_launch.h"
#include "fcgi_build.h"
#include "fcgi_log.h"
#include "fcgi_stats.h"
#include "fcgi_tally.h"

FCGIX_USE_LOG_MODULE;

/* The kinds fcgi_stats.h names are the tally's error counters. */
typedef char fcgix_stats_nerr_check[FCGIX_NERR == FCGIX_TALLY_NERR ? 1 : -1];

/* The table in httpd's process pool, across configurations. */
#define TABLE_KEY "fcgix_stats_table"
/* The least a table holds: the configured apps and room for dynamic
 * ones. A configuration with more than half as many apps gets a table
 * twice its number of apps. */
#define TABLE_MIN 256

typedef struct {
    fcgix_tally_t t;
    fcgix_holds_t holds; /* which child has a request in flight where */
    apr_shm_t *shm;
} store_t;

static fcgix_tally_t table;     /* this generation's handle (zero: none) */
static fcgix_holds_t holds;     /* and its holder records */
static int32_t child_pid;       /* this httpd child's, noted at its first
                                   request */
static unsigned hold_hint;      /* spreads holds over the records */
static apr_hash_t *configured;  /* app path -> int: its record */
static server_rec *main_server; /* for the log line of a full table */

/* Which bounds of the tally (R10, ten per decade) ?metrics shows: 1, 2.5
 * and 5 of each decade, and the last one (100 s). */
static const int le_index[FCGIX_STATS_NLE] = {
    0, 4, 7, 10, 14, 17, 20, 24, 27, 30, 34, 37, 40, 44, 47, 50, 54, 57, 60};

static int64_t wall_ms(void)
{
    return (int64_t)apr_time_as_msec(apr_time_now());
}

/* ------------------------------------------------------------------ */
/* The table (parent)                                                  */
/* ------------------------------------------------------------------ */

/* Every record of @old (another table, read as untrusted: a bounded copy
 * of the path, numbers only added) into @t. */
static void carry_all(fcgix_tally_t *t, const fcgix_tally_t *old)
{
    char path[FCGIX_TALLY_PATH_MAX];
    int i, j, dynamic;

    for (i = 0; i < old->nrecs; i++) {
        if (fcgix_tally_path(old, i, path, sizeof(path), &dynamic)
            && (j = fcgix_tally_claim(t, path, dynamic)) >= 0) {
            fcgix_tally_carry(t, j, fcgix_tally_rec(old, i));
        }
    }
}

/* The table from the last configuration if it has room for @need
 * records, else a new one with the old one's counts. */
static store_t *store_for(server_rec *s, int need)
{
    apr_pool_t *pp = s->process->pool;
    store_t *store = NULL, *fresh;
    apr_shm_t *shm;
    apr_status_t rv;
    int cap = need > TABLE_MIN ? need : TABLE_MIN;
    int nholds = fcgix_launch_holder_records();
    char *mem;

    apr_pool_userdata_get((void **)&store,
                          fcgix_build_key(s->process->pconf, TABLE_KEY), pp);
    if (store && store->t.nrecs >= need && store->holds.n >= nholds) {
        return store;
    }
    rv = apr_shm_create(&shm, fcgix_tally_size(cap) + fcgix_holds_size(nholds),
                        NULL, pp);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     FCGIX_LOGNO(00851) "cannot create shared memory for "
                                        "the statistics of %d apps; "
                                        "requests are not counted",
                     cap);
        return NULL;
    }
    fresh = apr_pcalloc(pp, sizeof(*fresh));
    fresh->shm = shm;
    mem = apr_shm_baseaddr_get(shm);
    fcgix_tally_init(&fresh->t, mem, cap);
    fcgix_holds_init(&fresh->holds, mem + fcgix_tally_size(cap), nholds);
    if (store) {
        carry_all(&fresh->t, &store->t);
        /* Unmapped here only: the children that count into it keep
         * their mapping until they exit. */
        apr_shm_destroy(store->shm);
    }
    apr_pool_userdata_set(fresh, fcgix_build_key(s->process->pconf, TABLE_KEY),
                          apr_pool_cleanup_null, pp);
    return fresh;
}

/* A record for each configured app, its index noted in private memory. */
static void claim_configured(apr_pool_t *pconf, server_rec *s,
                             apr_hash_t *registry, fcgix_tally_t *t)
{
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(pconf, registry); hi; hi = apr_hash_next(hi)) {
        const fcgix_app_t *app = apr_hash_this_val(hi);
        int i = fcgix_tally_claim(t, app->path, 0), *index;

        if (i < 0) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                         FCGIX_LOGNO(00852) "FastCGI app %s (%s): its "
                                            "requests are not counted (%s)",
                         app->path, app->defined_at,
                         i == FCGIX_TALLY_TOO_LONG ? "path too long"
                                                   : "statistics table full");
            continue;
        }
        index = apr_palloc(pconf, sizeof(*index));
        *index = i;
        apr_hash_set(configured, app->path, APR_HASH_KEY_STRING, index);
    }
}

static apr_status_t forget(void *data)
{
    (void)data;
    memset(&table, 0, sizeof(table));
    memset(&holds, 0, sizeof(holds));
    configured = NULL;
    return APR_SUCCESS;
}

int fcgix_stats_post_config(apr_pool_t *pconf, server_rec *s,
                            apr_hash_t *registry)
{
    store_t *store;

    memset(&table, 0, sizeof(table));
    memset(&holds, 0, sizeof(holds));
    configured = apr_hash_make(pconf);
    main_server = s;
    apr_pool_cleanup_register(pconf, NULL, forget, apr_pool_cleanup_null);
    /* The first configuration pass only checks. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    store = store_for(s, 2 * (int)apr_hash_count(registry));
    if (store == NULL) {
        return OK; /* logged; everything else works */
    }
    claim_configured(pconf, s, registry, &store->t);
    table = store->t;
    table.relax = apr_thread_yield; /* this copy of the module's own */
    holds = store->holds;
    return OK;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

/* The index of @path's record: a configured app's from private memory,
 * else found by path (claimed when @claim); -1 when none. */
static int index_of(const char *path, int claim)
{
    const int *index;
    int i;

    if (table.recs == NULL || path == NULL) {
        return -1;
    }
    index =
        configured ? apr_hash_get(configured, path, APR_HASH_KEY_STRING) : NULL;
    if (index) {
        return *index;
    }
    if (!claim) {
        return fcgix_tally_find(&table, path);
    }
    i = fcgix_tally_claim(&table, path, 1);
    if (i == FCGIX_TALLY_FULL && fcgix_tally_first_full(&table)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, main_server,
                     FCGIX_LOGNO(00850) "FastCGI app %s: the statistics "
                                        "table is full (%d apps); requests "
                                        "to apps without a record are not "
                                        "counted (said once)",
                     path, table.nrecs);
    }
    return i;
}

const char *fcgix_stats_label(apr_pool_t *p, const char *path, const char *host,
                              long uid)
{
    if (host == NULL) {
        return path;
    }
    return uid < 0 ? apr_pstrcat(p, path, " [", host, "]", NULL)
                   : apr_psprintf(p, "%s [%s, ~%ld]", path, host, uid);
}

const char *fcgix_stats_host_name(apr_pool_t *p, const server_rec *s)
{
    /* A ServerName without a port leaves s->port 0: the <VirtualHost>
     * address's port then. */
    unsigned port = s->port    ? (unsigned)s->port
                    : s->addrs ? (unsigned)s->addrs->host_port
                               : 0;

    return apr_psprintf(p, "%s:%u",
                        s->server_hostname ? s->server_hostname : "*", port);
}

fcgix_stats_rec_t *fcgix_stats_of(const char *path)
{
    /* The caller only hands the pointer back: an opaque round trip. */
    return (fcgix_stats_rec_t *)fcgix_tally_rec(&table, index_of(path, 1));
}

int fcgix_stats_begin(fcgix_stats_rec_t *rec)
{
    fcgix_tally_rec_t *t = (fcgix_tally_rec_t *)rec;

    if (t == NULL) {
        return -1;
    }
    if (child_pid == 0) {
        child_pid = (int32_t)getpid();
        hold_hint = (unsigned)child_pid * 2654435761u;
    }
    fcgix_tally_begin(t);
    return fcgix_hold(&holds,
                      __atomic_add_fetch(&hold_hint, 1, __ATOMIC_RELAXED),
                      child_pid, (int32_t)(t - table.recs));
}

void fcgix_stats_end(fcgix_stats_rec_t *rec, int token,
                     const fcgix_stats_outcome_t *outcome)
{
    fcgix_unhold(&holds, token, child_pid);
    if (rec) {
        fcgix_tally_end((fcgix_tally_rec_t *)rec, (int)outcome->error,
                        outcome->usec, outcome->bytes_in, outcome->bytes_out,
                        wall_ms());
    }
}

/* ------------------------------------------------------------------ */
/* The status page                                                     */
/* ------------------------------------------------------------------ */

int64_t fcgix_stats_le_us(int i)
{
    return i >= 0 && i < FCGIX_STATS_NLE ? fcgix_tally_bounds[le_index[i]] : 0;
}

static void fill_view(const fcgix_tally_view_t *tv, fcgix_stats_view_t *out)
{
    uint64_t cum = 0;
    int i, b = 0;

    memset(out, 0, sizeof(*out));
    out->in_flight = tv->in_flight;
    out->requests = tv->requests;
    memcpy(out->errors, tv->errors, sizeof(out->errors));
    out->bytes_in = tv->bytes_in;
    out->bytes_out = tv->bytes_out;
    out->timed = tv->n;
    out->sum_us = tv->sum_us;
    for (i = 0; i < FCGIX_STATS_NLE; i++) {
        for (; b <= le_index[i]; b++) {
            cum += tv->count[b];
        }
        out->le[i] = cum;
    }
    out->window_ms = tv->recent_ms;
    out->recent = tv->recent_n;
    out->mean_us =
        tv->recent_n ? (int64_t)(tv->recent_sum_us / tv->recent_n) : -1;
    out->p50_us = fcgix_tally_quantile(tv->recent, 0.5);
    out->p99_us = fcgix_tally_quantile(tv->recent, 0.99);
}

int fcgix_stats_view(const char *path, fcgix_stats_view_t *out)
{
    const fcgix_tally_rec_t *rec = fcgix_tally_rec(&table, index_of(path, 0));
    fcgix_tally_view_t tv;

    if (rec == NULL) {
        return 0;
    }
    fcgix_tally_read(rec, wall_ms(), &tv);
    fill_view(&tv, out);
    return 1;
}

apr_array_header_t *fcgix_stats_dynamic_paths(apr_pool_t *p)
{
    apr_array_header_t *paths = apr_array_make(p, 8, sizeof(const char *));
    char path[FCGIX_TALLY_PATH_MAX];
    int i, dynamic;

    for (i = 0; i < table.nrecs; i++) {
        if (fcgix_tally_path(&table, i, path, sizeof(path), &dynamic)
            && dynamic) {
            APR_ARRAY_PUSH(paths, const char *) = apr_pstrdup(p, path);
        }
    }
    return paths;
}

static void give_back(void *t, int32_t rec)
{
    fcgix_tally_rec_t *r = fcgix_tally_rec(t, rec);

    if (r != NULL) {
        fcgix_tally_leave(r);
    }
}

/* child_status, in httpd's parent: the requests a child had in flight
 * when it exited are in flight no more. */
static void child_exited(server_rec *s, pid_t pid, ap_generation_t gen,
                         int slot, mpm_child_status state)
{
    store_t *store = NULL;

    (void)gen;
    (void)slot;
    if (state != MPM_CHILD_EXITED) {
        return;
    }
    apr_pool_userdata_get((void **)&store,
                          fcgix_build_key(s->process->pconf, TABLE_KEY),
                          s->process->pool);
    if (store) {
        fcgix_holds_reclaim(&store->holds, (int32_t)pid, give_back, &store->t);
    }
}

void fcgix_stats_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_child_status(child_exited, NULL, NULL, APR_HOOK_MIDDLE);
}
