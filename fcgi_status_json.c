/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_status_json.c
 * @brief The status page as JSON (?json).
 */

#include <string.h>

#include "httpd.h"
#include "http_protocol.h"

#include "apr_strings.h"

#include "fcgi_status_int.h"

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
        n = fcgix_status_utf8_len(in);
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

    fcgix_status_count_texts(r->pool, c, "null", value);
    for (i = 0; i < NCOUNTS; i++) {
        ap_rprintf(r, "%s\"%s\": %s", i ? ", " : "",
                   fcgix_status_count_names[i].json, value[i]);
    }
}

static void json_proc(request_rec *r, const proc_snap_t *ps, int last)
{
    apr_pool_t *p = r->pool;
    const char *problem = fcgix_status_problem_name(ps->hung);

    ap_rprintf(r,
               "        {\"slot\": %d, \"pid\": %s, \"state\": \"%s\", "
               "\"busy\": %s, \"in_flight\": %d, \"open\": %s, "
               "\"retiring\": %s, \"problem\": %s, \"age\": %s, "
               "\"idle\": %s, \"requests\": %s, \"slot_requests\": %s, "
               "\"restarts\": %u, \"backoff\": %s, \"socket\": %s}%s\n",
               ps->slot, ps->pid > 0 ? apr_itoa(p, ps->pid) : "null",
               fcgix_status_state_name(ps),
               json_bool(fcgix_status_has_process(ps) && ps->users > 0),
               ps->users > 0 ? ps->users : 0, json_bool(ps->users >= 0),
               json_bool(ps->retiring), problem ? json_str(p, problem) : "null",
               fcgix_status_seconds(p, ps->age_ms, "null"),
               fcgix_status_seconds(p, ps->idle_ms, "null"),
               fcgix_status_u64(p, ps->requests),
               fcgix_status_u64(p, ps->all_requests), (unsigned)ps->restarts,
               fcgix_status_seconds(p, ps->backoff_ms, "null"),
               json_str(p, ps->socket), last ? "" : ",");
}

/* "stats": the app's record, or null when it has none. */
static void json_stats(request_rec *r, const class_snap_t *cs)
{
    apr_pool_t *p = r->pool;
    const fcgix_stats_view_t *st = &cs->stats;
    int k;

    if (!cs->has_stats) {
        ap_rputs("\"stats\": null, ", r);
        return;
    }
    ap_rprintf(r,
               "\"stats\": {\"requests\": %s, \"in_flight\": %ld, "
               "\"errors\": {",
               fcgix_status_u64(p, st->requests), (long)st->in_flight);
    for (k = 0; k < FCGIX_NERR; k++) {
        ap_rprintf(r, "%s\"%s\": %s", k ? ", " : "",
                   fcgix_status_error_names[k],
                   fcgix_status_u64(p, st->errors[k]));
    }
    ap_rprintf(r,
               "}, \"bytes_in\": %s, \"bytes_out\": %s, "
               "\"response_time\": {\"window\": %s, \"requests\": %s, "
               "\"mean\": %s, \"p50\": %s, \"p99\": %s}}, ",
               fcgix_status_u64(p, st->bytes_in),
               fcgix_status_u64(p, st->bytes_out),
               fcgix_status_seconds(p, st->window_ms, "null"),
               fcgix_status_u64(p, st->recent),
               fcgix_status_usec(p, st->mean_us, "null"),
               fcgix_status_usec(p, st->p50_us, "null"),
               fcgix_status_usec(p, st->p99_us, "null"));
}

static void json_member(request_rec *r, const member_snap_t *ms, int last)
{
    apr_pool_t *p = r->pool;

    ap_rprintf(
        r,
        "        {\"address\": %s, \"state\": \"%s\", \"backup\": %s, "
        "\"in_flight\": %d, \"served\": %s, \"failures\": %s, "
        "\"since\": %s, \"last_error\": %s, \"name\": %s, "
        "\"resolved\": %s}%s\n",
        json_str(p, ms->address), fcgix_status_member_state(ms->state),
        json_bool(ms->backup), ms->in_flight, fcgix_status_u64(p, ms->served),
        fcgix_status_u64(p, ms->failures),
        fcgix_status_seconds(p, ms->since_ms, "null"),
        ms->last_error[0] ? json_str(p, ms->last_error) : "null",
        ms->name[0] ? json_str(p, ms->name) : "null",
        fcgix_status_seconds(p, ms->resolved_ms, "null"), last ? "" : ",");
}

/* An external server: what this child knows, and a balanced one's
 * members. */
static void json_external(request_rec *r, const class_snap_t *cs)
{
    int k;

    /* Its processes are not ours: only what this child knows. */
    ap_rprintf(r,
               "\"kept_connections\": %s, "
               "\"kept_connections_scope\": \"this httpd child\"",
               cs->sum.kept < 0 ? "null" : apr_itoa(r->pool, cs->sum.kept));
    if (!cs->balanced) {
        return;
    }
    ap_rputs(",\n      \"members\": [\n", r);
    for (k = 0; k < cs->nmembers; k++) {
        json_member(r, &cs->members[k], k == cs->nmembers - 1);
    }
    ap_rputs("      ]", r);
}

static const char *json_or_null(apr_pool_t *p, const char *s)
{
    return s ? json_str(p, s) : "null";
}

/* Whose the class is: its vocabulary, host, user, command, cap. */
static void json_owner(request_rec *r, const class_snap_t *cs)
{
    apr_pool_t *p = r->pool;

    ap_rprintf(r,
               "\"vocabulary\": \"%s\", \"host\": %s, \"user\": %s, "
               "\"uid\": %s, \"command\": %s, \"capped\": %s, "
               "\"label\": %s,\n      ",
               cs->fcgid ? "fcgid" : "fastcgi", json_or_null(p, cs->host),
               json_or_null(p, cs->user),
               cs->uid < 0 ? "null" : apr_ltoa(p, cs->uid),
               json_or_null(p, cs->command), json_or_null(p, cs->capped),
               json_str(p, cs->label));
}

static void json_class(request_rec *r, const class_snap_t *cs, int last)
{
    int i;

    ap_rprintf(r, "    {\"kind\": \"%s\", \"path\": %s, \"address\": %s, ",
               fcgix_status_kind_name(cs->kind), json_str(r->pool, cs->path),
               cs->address ? json_str(r->pool, cs->address) : "null");
    json_owner(r, cs);
    json_stats(r, cs);
    if (cs->kind == FCGIX_APP_EXTERNAL) {
        json_external(r, cs);
        ap_rprintf(r, "}%s\n", last ? "" : ",");
        return;
    }
    ap_rprintf(r, "\"slots\": %d, \"max_requests\": %s, ", cs->slots,
               fcgix_status_u64(r->pool, cs->max_requests));
    json_counts(r, &cs->sum);
    ap_rputs(",\n      \"process_list\": [\n", r);
    for (i = 0; i < cs->nprocs; i++) {
        json_proc(r, &cs->procs[i], i == cs->nprocs - 1);
    }
    ap_rprintf(r, "      ]}%s\n", last ? "" : ",");
}

/* "tenants" and "users": the hosts' and identities' processes. */
static void json_tenants(request_rec *r, const snap_t *sn)
{
    int i;

    ap_rputs("  \"tenants\": [", r);
    for (i = 0; i < sn->ntenants; i++) {
        const tenant_snap_t *t = &sn->tenants[i];

        ap_rprintf(r,
                   "%s\n    {\"host\": %s, \"processes\": %u, \"max\": %s, "
                   "\"waiting\": %u, \"refused\": %u}",
                   i ? "," : "", json_str(r->pool, t->host), (unsigned)t->live,
                   t->max ? apr_psprintf(r->pool, "%u", (unsigned)t->max)
                          : "null",
                   (unsigned)t->waiting, (unsigned)t->refused);
    }
    ap_rputs(sn->ntenants ? "\n  ],\n  \"users\": [" : "],\n  \"users\": [", r);
    for (i = 0; i < sn->nusers; i++) {
        const user_snap_t *u = &sn->users[i];

        ap_rprintf(r,
                   "%s\n    {\"user\": %s, \"uid\": %u, \"processes\": %u, "
                   "\"max\": %s}",
                   i ? "," : "", json_str(r->pool, u->name), (unsigned)u->uid,
                   (unsigned)u->live,
                   u->max ? apr_psprintf(r->pool, "%u", (unsigned)u->max)
                          : "null");
    }
    ap_rputs(sn->nusers ? "\n  ],\n" : "],\n", r);
}

void fcgix_status_json_page(request_rec *r, const snap_t *sn)
{
    int i;

    ap_rprintf(r,
               "{\n  \"process_manager\": {\"running\": %s, \"pid\": %s, "
               "\"uptime\": %s, \"generation\": %d, "
               "\"waiting_first_start\": %u},\n",
               json_bool(sn->pm_running),
               sn->pm_running ? apr_itoa(r->pool, sn->pm_pid) : "null",
               fcgix_status_seconds(r->pool, sn->pm_uptime_ms, "null"),
               sn->generation, (unsigned)sn->waiting_new);
    ap_rprintf(r, "  \"view\": \"%s\",\n", sn->all ? "all" : "virtual host");
    ap_rprintf(r, "  \"totals\": {\"classes\": %d, ", sn->nclasses);
    json_counts(r, &sn->total);
    ap_rputs("},\n", r);
    json_tenants(r, sn);
    ap_rputs("  \"classes\": [\n", r);
    for (i = 0; i < sn->nclasses; i++) {
        json_class(r, &sn->classes[i], i == sn->nclasses - 1);
    }
    ap_rputs("  ]\n}\n", r);
}
