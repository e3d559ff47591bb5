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

static void json_class(request_rec *r, const class_snap_t *cs, int last)
{
    int i;

    ap_rprintf(r, "    {\"kind\": \"%s\", \"path\": %s, \"address\": %s, ",
               fcgix_status_kind_name(cs->kind), json_str(r->pool, cs->path),
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
               fcgix_status_u64(r->pool, cs->max_requests));
    json_counts(r, &cs->sum);
    ap_rputs(",\n      \"process_list\": [\n", r);
    for (i = 0; i < cs->nprocs; i++) {
        json_proc(r, &cs->procs[i], i == cs->nprocs - 1);
    }
    ap_rprintf(r, "      ]}%s\n", last ? "" : ",");
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
    ap_rputs("},\n  \"classes\": [\n", r);
    for (i = 0; i < sn->nclasses; i++) {
        json_class(r, &sn->classes[i], i == sn->nclasses - 1);
    }
    ap_rputs("  ]\n}\n", r);
}
