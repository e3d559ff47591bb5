/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_status_text.c
 * @brief The status page as mod_status's "Key: value" lines (?auto).
 */

#include <stddef.h>
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

/* The end of a Class line: the app's statistics, as stats_ fields named
 * after their place in the JSON "stats" object (none when it has no
 * record). */
static void auto_stats(request_rec *r, const class_snap_t *cs)
{
    apr_pool_t *p = r->pool;
    const fcgix_stats_view_t *st = &cs->stats;
    int k;

    if (cs->has_stats) {
        ap_rprintf(r, " stats_requests=%s stats_in_flight=%ld",
                   fcgix_status_u64(p, st->requests), (long)st->in_flight);
        for (k = 0; k < FCGIX_NERR; k++) {
            ap_rprintf(r, " stats_errors_%s=%s", fcgix_status_error_names[k],
                       fcgix_status_u64(p, st->errors[k]));
        }
        ap_rprintf(r,
                   " stats_bytes_in=%s stats_bytes_out=%s stats_window=%s "
                   "stats_window_requests=%s stats_mean=%s stats_p50=%s "
                   "stats_p99=%s",
                   fcgix_status_u64(p, st->bytes_in),
                   fcgix_status_u64(p, st->bytes_out),
                   fcgix_status_seconds(p, st->window_ms, "-"),
                   fcgix_status_u64(p, st->recent),
                   fcgix_status_usec(p, st->mean_us, "-"),
                   fcgix_status_usec(p, st->p50_us, "-"),
                   fcgix_status_usec(p, st->p99_us, "-"));
    }
    ap_rputs("\n", r);
}

static void auto_member(request_rec *r, const char *path,
                        const member_snap_t *ms)
{
    apr_pool_t *p = r->pool;

    ap_rprintf(r,
               "Member: path=%s address=%s state=%s backup=%d in_flight=%d "
               "served=%s failures=%s since=%s last_error=%s name=%s "
               "resolved=%s\n",
               path, auto_token(p, ms->address),
               fcgix_status_member_state(ms->state), ms->backup, ms->in_flight,
               fcgix_status_u64(p, ms->served),
               fcgix_status_u64(p, ms->failures),
               fcgix_status_seconds(p, ms->since_ms, "-"),
               auto_token(p, ms->last_error), auto_token(p, ms->name),
               fcgix_status_seconds(p, ms->resolved_ms, "-"));
}

static void auto_external(request_rec *r, const class_snap_t *cs,
                          const char *path)
{
    int k;

    ap_rprintf(r, "Class: kind=external path=%s address=%s kept_connections=%s",
               path, auto_token(r->pool, cs->address),
               cs->sum.kept < 0 ? "-" : apr_itoa(r->pool, cs->sum.kept));
    auto_stats(r, cs);
    for (k = 0; k < cs->nmembers; k++) {
        auto_member(r, path, &cs->members[k]);
    }
}

static void auto_class(request_rec *r, const class_snap_t *cs)
{
    const char *path = auto_token(r->pool, cs->path);
    const counts_t *s = &cs->sum;
    int i;

    if (cs->kind == FCGIX_APP_EXTERNAL) {
        auto_external(r, cs, path);
        return;
    }
    ap_rprintf(r,
               "Class: kind=%s path=%s address=%s slots=%d processes=%d "
               "busy=%d waiting=%u failed_starts=%s requests=%s restarts=%s "
               "max_requests=%s",
               fcgix_status_kind_name(cs->kind), path,
               cs->address ? auto_token(r->pool, cs->address) : "-", cs->slots,
               s->processes, s->busy, (unsigned)s->waiting,
               fcgix_status_u64(r->pool, s->failed_starts),
               fcgix_status_u64(r->pool, s->requests),
               fcgix_status_u64(r->pool, s->restarts),
               fcgix_status_u64(r->pool, cs->max_requests));
    if (cs->fcgid) {
        ap_rprintf(r, " vocabulary=fcgid host=%s user=%s command=%s",
                   auto_token(r->pool, cs->host),
                   cs->user ? auto_token(r->pool, cs->user) : "-",
                   cs->command ? auto_token(r->pool, cs->command) : "-");
    }
    if (cs->capped) {
        ap_rprintf(r, " capped=%s", cs->capped);
    }
    auto_stats(r, cs);
    for (i = 0; i < cs->nprocs; i++) {
        auto_proc(r, path, &cs->procs[i]);
    }
}

/* "Tenant:" and "User:" lines; a cap of 0 is none. */
static void auto_tenants(request_rec *r, const snap_t *sn)
{
    int i;

    for (i = 0; i < sn->ntenants; i++) {
        const tenant_snap_t *t = &sn->tenants[i];

        ap_rprintf(r,
                   "Tenant: host=%s processes=%u max=%u waiting=%u "
                   "refused=%u\n",
                   auto_token(r->pool, t->host), (unsigned)t->live,
                   (unsigned)t->max, (unsigned)t->waiting,
                   (unsigned)t->refused);
    }
    for (i = 0; i < sn->nusers; i++) {
        const user_snap_t *u = &sn->users[i];

        ap_rprintf(r, "User: name=%s uid=%u processes=%u max=%u\n",
                   auto_token(r->pool, u->name), (unsigned)u->uid,
                   (unsigned)u->live, (unsigned)u->max);
    }
}

void fcgix_status_auto_page(request_rec *r, const snap_t *sn)
{
    int i;

    fcgix_status_auto_summary(r, sn);
    auto_tenants(r, sn);
    for (i = 0; i < sn->nclasses; i++) {
        auto_class(r, &sn->classes[i]);
    }
}

/* ------------------------------------------------------------------ */
/* ?metrics: Prometheus' text exposition format 0.0.4                  */
/* ------------------------------------------------------------------ */

/* The apps ?metrics shows: the classes, then the records of dynamic apps
 * that have no class now; each with its label app="...". */
typedef struct {
    request_rec *r;
    const snap_t *sn;
    int napps;
    const class_snap_t **app;
    const char **label;
} prom_t;

/* A label value: backslash, double quote and line feed escaped; bytes
 * that are not UTF-8 become U+FFFD (the format is UTF-8). */
static const char *prom_value(apr_pool_t *p, const char *s)
{
    const unsigned char *in = (const unsigned char *)s;
    char *out = apr_palloc(p, strlen(s) * 3 + 1), *o = out;
    size_t n;

    while (*in) {
        n = fcgix_status_utf8_len(in);
        if (n == 0) {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            in++;
        }
        else if (*in == '\\' || *in == '"' || *in == '\n') {
            *o++ = '\\';
            *o++ = *in == '\n' ? 'n' : (char)*in;
            in++;
        }
        else {
            memcpy(o, in, n);
            o += n;
            in += n;
        }
    }
    *o = '\0';
    return out;
}

static void prom_head(request_rec *r, const char *name, const char *type,
                      const char *help)
{
    ap_rprintf(r, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static prom_t *prom_apps(request_rec *r, const snap_t *sn)
{
    prom_t *pr = apr_pcalloc(r->pool, sizeof(*pr));
    int i, n = sn->nclasses + sn->nrecords;

    pr->r = r;
    pr->sn = sn;
    pr->app = apr_pcalloc(r->pool, sizeof(*pr->app) * (size_t)(n + 1));
    pr->label = apr_pcalloc(r->pool, sizeof(*pr->label) * (size_t)(n + 1));
    for (i = 0; i < n; i++) {
        const class_snap_t *cs =
            i < sn->nclasses ? &sn->classes[i] : &sn->records[i - sn->nclasses];

        pr->app[pr->napps] = cs;
        pr->label[pr->napps++] = apr_pstrcat(
            r->pool, "app=\"", prom_value(r->pool, cs->label), "\"", NULL);
    }
    return pr;
}

/* The counters of every app's record. */
static const struct {
    const char *name, *help;
    size_t offset; /* of a uint64_t in fcgix_stats_view_t */
} app_counters[] = {
    {"fastcgi_requests_total",
     "Requests to the app that ended, errors included.",
     offsetof(fcgix_stats_view_t, requests)},
    {"fastcgi_request_body_bytes_total", "Request body bytes sent to the app.",
     offsetof(fcgix_stats_view_t, bytes_in)},
    {"fastcgi_response_body_bytes_total",
     "Response body bytes from the app sent to clients.",
     offsetof(fcgix_stats_view_t, bytes_out)},
};

static void prom_counters(const prom_t *pr)
{
    request_rec *r = pr->r;
    size_t c;
    int i;

    for (c = 0; c < sizeof(app_counters) / sizeof(app_counters[0]); c++) {
        prom_head(r, app_counters[c].name, "counter", app_counters[c].help);
        for (i = 0; i < pr->napps; i++) {
            const char *st = (const char *)&pr->app[i]->stats;

            if (pr->app[i]->has_stats) {
                ap_rprintf(
                    r, "%s{%s} %s\n", app_counters[c].name, pr->label[i],
                    fcgix_status_u64(
                        r->pool,
                        *(const uint64_t *)(st + app_counters[c].offset)));
            }
        }
    }
}

static void prom_in_flight_and_errors(const prom_t *pr)
{
    request_rec *r = pr->r;
    int i, k;

    prom_head(r, "fastcgi_requests_in_flight", "gauge",
              "Requests to the app under way now.");
    for (i = 0; i < pr->napps; i++) {
        if (pr->app[i]->has_stats) {
            ap_rprintf(r, "fastcgi_requests_in_flight{%s} %ld\n", pr->label[i],
                       (long)pr->app[i]->stats.in_flight);
        }
    }
    prom_head(r, "fastcgi_errors_total", "counter",
              "Requests that failed, by kind: connect (the app could not be "
              "reached or refused), timeout, protocol (the app broke "
              "FastCGI or CGI rules), app_5xx (the app answered 5xx).");
    for (i = 0; i < pr->napps; i++) {
        for (k = 0; pr->app[i]->has_stats && k < FCGIX_NERR; k++) {
            ap_rprintf(r, "fastcgi_errors_total{%s,kind=\"%s\"} %s\n",
                       pr->label[i], fcgix_status_error_names[k],
                       fcgix_status_u64(r->pool, pr->app[i]->stats.errors[k]));
        }
    }
}

/* A bucket's bound as Prometheus' clients write it: seconds, no
 * trailing zeros ("0.00025", "1", "2.5"). */
static const char *le_text(apr_pool_t *p, int64_t us)
{
    char frac[8];
    int n;

    apr_snprintf(frac, sizeof(frac), "%06d", (int)(us % 1000000));
    for (n = 6; n > 0 && frac[n - 1] == '0'; n--) {
        frac[n - 1] = '\0';
    }
    return apr_psprintf(p, "%d%s%s", (int)(us / 1000000), n ? "." : "", frac);
}

static void prom_histogram_of(request_rec *r, const char *label,
                              const fcgix_stats_view_t *st)
{
    int k;

    for (k = 0; k < FCGIX_STATS_NLE; k++) {
        ap_rprintf(r, "fastcgi_response_time_seconds_bucket{%s,le=\"%s\"} %s\n",
                   label, le_text(r->pool, fcgix_stats_le_us(k)),
                   fcgix_status_u64(r->pool, st->le[k]));
    }
    ap_rprintf(r,
               "fastcgi_response_time_seconds_bucket{%s,le=\"+Inf\"} %s\n"
               "fastcgi_response_time_seconds_sum{%s} %.6f\n"
               "fastcgi_response_time_seconds_count{%s} %s\n",
               label, fcgix_status_u64(r->pool, st->timed), label,
               (double)st->sum_us / 1e6, label,
               fcgix_status_u64(r->pool, st->timed));
}

static void prom_histogram(const prom_t *pr)
{
    int i;

    prom_head(pr->r, "fastcgi_response_time_seconds", "histogram",
              "Time from the start of the exchange with the app to its end.");
    for (i = 0; i < pr->napps; i++) {
        if (pr->app[i]->has_stats) {
            prom_histogram_of(pr->r, pr->label[i], &pr->app[i]->stats);
        }
    }
}

/* The process manager and the processes of its apps (the board). */
static void prom_processes(const prom_t *pr)
{
    static const char *const name[3] = {"fastcgi_processes",
                                        "fastcgi_processes_busy",
                                        "fastcgi_requests_waiting"};
    static const char *const help[3] = {
        "Processes of the app the process manager runs.",
        "Processes of the app serving a request now.",
        "Requests waiting for the process manager to start a process."};
    request_rec *r = pr->r;
    int g, i;

    prom_head(r, "fastcgi_process_manager_up", "gauge",
              "1 when the process manager runs, else 0.");
    ap_rprintf(r, "fastcgi_process_manager_up %d\n", pr->sn->pm_running);
    for (g = 0; g < 3; g++) {
        prom_head(r, name[g], "gauge", help[g]);
        for (i = 0; i < pr->sn->nclasses; i++) {
            const counts_t *c = &pr->sn->classes[i].sum;

            if (pr->sn->classes[i].kind != FCGIX_APP_EXTERNAL) {
                ap_rprintf(r, "%s{%s} %ld\n", name[g], pr->label[i],
                           g == 0   ? (long)c->processes
                           : g == 1 ? (long)c->busy
                                    : (long)c->waiting);
            }
        }
    }
}

/* The members of balanced external servers. */
static void prom_members(const prom_t *pr)
{
    static const char *const name[4] = {
        "fastcgi_member_up", "fastcgi_member_in_flight",
        "fastcgi_member_served_total", "fastcgi_member_failures_total"};
    static const char *const type[4] = {"gauge", "gauge", "counter", "counter"};
    static const char *const help[4] = {
        "1 when the member takes requests, 0 when it is down (or on trial).",
        "Requests on the member now, all httpd children.",
        "Requests the member answered.", "Requests the member failed."};
    request_rec *r = pr->r;
    int g, i, k;

    for (g = 0; g < 4; g++) {
        prom_head(r, name[g], type[g], help[g]);
        for (i = 0; i < pr->sn->nclasses; i++) {
            const class_snap_t *cs = &pr->sn->classes[i];

            for (k = 0; k < cs->nmembers; k++) {
                const member_snap_t *m = &cs->members[k];

                ap_rprintf(r, "%s{%s,member=\"%s\"} %s\n", name[g],
                           pr->label[i], prom_value(r->pool, m->address),
                           g == 0   ? (m->state == FCGIX_LB_UP ? "1" : "0")
                           : g == 1 ? apr_itoa(r->pool, m->in_flight)
                           : g == 2 ? fcgix_status_u64(r->pool, m->served)
                                    : fcgix_status_u64(r->pool, m->failures));
            }
        }
    }
}

/* The virtual hosts' processes, caps, waiting and refused requests. */
static void prom_tenants(const prom_t *pr)
{
    static const char *const name[4] = {
        "fastcgi_host_processes", "fastcgi_host_processes_max",
        "fastcgi_host_waiting", "fastcgi_host_refused_total"};
    static const char *const help[4] = {
        "Dynamic processes of the virtual host (fcgid classes).",
        "The virtual host's process cap; 0: none.",
        "Requests of the virtual host waiting for a process now.",
        "Requests of the virtual host refused at its cap."};
    request_rec *r = pr->r;
    int g, i;

    for (g = 0; g < 4; g++) {
        prom_head(r, name[g], g == 3 ? "counter" : "gauge", help[g]);
        for (i = 0; i < pr->sn->ntenants; i++) {
            const tenant_snap_t *t = &pr->sn->tenants[i];

            ap_rprintf(r, "%s{host=\"%s\"} %u\n", name[g],
                       prom_value(r->pool, t->host),
                       (unsigned)(g == 0   ? t->live
                                  : g == 1 ? t->max
                                  : g == 2 ? t->waiting
                                           : t->refused));
        }
    }
}

/* The identities' processes and caps. */
static void prom_users(const prom_t *pr)
{
    request_rec *r = pr->r;
    int g, i;

    for (g = 0; g < 2; g++) {
        prom_head(r,
                  g ? "fastcgi_user_processes_max" : "fastcgi_user_processes",
                  "gauge",
                  g ? "The identity's process cap; 0: none."
                    : "Dynamic processes running as the identity.");
        for (i = 0; i < pr->sn->nusers; i++) {
            const user_snap_t *u = &pr->sn->users[i];

            ap_rprintf(
                r, "%s{user=\"%s\"} %u\n",
                g ? "fastcgi_user_processes_max" : "fastcgi_user_processes",
                prom_value(r->pool, u->name), (unsigned)(g ? u->max : u->live));
        }
    }
}

void fcgix_status_metrics_page(request_rec *r, const snap_t *sn)
{
    const prom_t *pr = prom_apps(r, sn);

    prom_counters(pr);
    prom_in_flight_and_errors(pr);
    prom_histogram(pr);
    prom_processes(pr);
    prom_members(pr);
    prom_tenants(pr);
    prom_users(pr);
}
