/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_status_text.c
 * @brief The status page as mod_status's "Key: value" lines (?auto).
 */

#include <string.h>

#include "httpd.h"
#include "http_protocol.h"

#include "apr_strings.h"

#include "fcgi_status_int.h"

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
void fcgix_status_auto_summary(request_rec *r, const snap_t *sn)
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
    fcgix_status_count_texts(r->pool, &sn->total, "0", value);
    for (i = 0; i < NCOUNTS; i++) {
        ap_rprintf(r, "%s: %s\n", fcgix_status_count_names[i].line, value[i]);
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
               path, ps->slot, ps->pid, fcgix_status_state_name(ps),
               fcgix_status_has_process(ps) && ps->users > 0,
               ps->users > 0 ? ps->users : 0,
               fcgix_status_seconds(p, ps->age_ms, "-"),
               fcgix_status_seconds(p, ps->idle_ms, "-"),
               fcgix_status_u64(p, ps->requests),
               fcgix_status_u64(p, ps->all_requests), (unsigned)ps->restarts,
               fcgix_status_seconds(p, ps->backoff_ms, "-"),
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
               fcgix_status_kind_name(cs->kind), path,
               cs->address ? auto_token(r->pool, cs->address) : "-", cs->slots,
               s->processes, s->busy, (unsigned)s->waiting,
               fcgix_status_u64(r->pool, s->failed_starts),
               fcgix_status_u64(r->pool, s->requests),
               fcgix_status_u64(r->pool, s->restarts),
               fcgix_status_u64(r->pool, cs->max_requests));
    for (i = 0; i < cs->nprocs; i++) {
        auto_proc(r, path, &cs->procs[i]);
    }
}

void fcgix_status_auto_page(request_rec *r, const snap_t *sn)
{
    int i;

    fcgix_status_auto_summary(r, sn);
    for (i = 0; i < sn->nclasses; i++) {
        auto_class(r, &sn->classes[i]);
    }
}
