/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_status_html.c
 * @brief The status page as HTML, and mod_status's FastCGI section.
 */

#include <string.h>

#include "httpd.h"
#include "http_protocol.h"

#include "apr_strings.h"

#include "fcgi_status_int.h"

/* The state in words, for people. */
static const char *state_words(apr_pool_t *p, const proc_snap_t *ps)
{
    const char *words, *problem = fcgix_status_problem_name(ps->hung);

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

static const char *html(request_rec *r, const char *s)
{
    return ap_escape_html(r->pool, s);
}

void fcgix_status_html_pm(request_rec *r, const snap_t *sn)
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

    fcgix_status_count_texts(r->pool, &sn->total, "-", value);
    ap_rputs("<table>\n<tr><th>classes</th>", r);
    for (i = 0; i < NCOUNTS; i++) {
        ap_rvputs(r, "<th>", fcgix_status_count_names[i].html, "</th>", NULL);
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
               fcgix_status_u64(p, ps->requests),
               fcgix_status_u64(p, ps->all_requests),
               human_duration(p, ps->idle_ms), (unsigned)ps->restarts,
               ps->backoff_ms < 0
                   ? "-"
                   : apr_psprintf(p, "restarting in %.1f s",
                                  (double)ps->backoff_ms / 1000.0),
               html(r, ps->socket));
}

/* "none" for no cap, else its number. */
static const char *cap_text(apr_pool_t *p, uint32_t max)
{
    return max ? apr_psprintf(p, "%u", (unsigned)max) : "none";
}

/* Whose an fcgid class is (host, user, command) and which cap stopped
 * it; a FastCgi class's identity and cap. */
static void html_class_owner(request_rec *r, const class_snap_t *cs)
{
    if (cs->fcgid) {
        ap_rprintf(r,
                   "<table>\n<tr><th>host</th><th>user</th><th>command</th>"
                   "</tr>\n<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n"
                   "</table>\n",
                   html(r, cs->host), cs->user ? html(r, cs->user) : "-",
                   cs->command ? html(r, cs->command) : "- (the script)");
    }
    else if (cs->user) {
        ap_rprintf(r, "<p>Runs as %s (uid %ld).</p>\n", html(r, cs->user),
                   cs->uid);
    }
    if (cs->capped) {
        ap_rprintf(r, "<p>capped: its growth stopped at the %s cap.</p>\n",
                   cs->capped);
    }
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
               cs->kind == FCGIX_APP_STATIC ? "FastCgiServer"
               : cs->fcgid                  ? "fcgid class"
                                            : "dynamic app",
               html(r, cs->path), s->processes, cs->slots,
               cs->slots == 1 ? "" : "es", s->busy, (unsigned)s->waiting,
               fcgix_status_u64(r->pool, s->failed_starts),
               cs->max_requests ? fcgix_status_u64(r->pool, cs->max_requests)
                                : "unlimited");
    html_class_owner(r, cs);
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
               fcgix_status_u64(r->pool, current),
               fcgix_status_u64(r->pool, s->requests),
               fcgix_status_u64(r->pool, s->restarts));
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
        fcgix_status_add_counts(&sum, &cs->sum);
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

static void html_member(request_rec *r, const member_snap_t *ms)
{
    apr_pool_t *p = r->pool;

    ap_rprintf(r,
               "<tr><td>%s</td><td>%s</td><td>%s</td><td>%d</td><td>%s</td>"
               "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
               "</tr>\n",
               html(r, ms->address), fcgix_status_member_state(ms->state),
               ms->backup ? "yes" : "no", ms->in_flight,
               fcgix_status_u64(p, ms->served),
               fcgix_status_u64(p, ms->failures),
               human_duration(p, ms->since_ms),
               ms->last_error[0] ? html(r, ms->last_error) : "-",
               ms->name[0] ? html(r, ms->name) : "-",
               human_duration(p, ms->resolved_ms));
}

/* A table of its members under each balanced external server. */
static void html_members(request_rec *r, const snap_t *sn)
{
    int i, k;

    for (i = 0; i < sn->nclasses; i++) {
        const class_snap_t *cs = &sn->classes[i];

        if (!cs->balanced) {
            continue;
        }
        ap_rprintf(r,
                   "<h4>Members of <code>%s</code></h4>\n<table>\n<tr>"
                   "<th>address</th><th>state</th><th>backup</th>"
                   "<th>in flight</th><th>served</th><th>failures</th>"
                   "<th>since (state)</th><th>last error</th>"
                   "<th>from name</th><th>resolved</th></tr>\n",
                   html(r, cs->path));
        for (k = 0; k < cs->nmembers; k++) {
            html_member(r, &cs->members[k]);
        }
        ap_rputs("</table>\n", r);
    }
}

/* A response time for people: "850 us", "12.3 ms", "1.20 s"; "-". */
static const char *human_usec(apr_pool_t *p, int64_t us)
{
    if (us < 0) {
        return "-";
    }
    if (us < 1000) {
        return apr_psprintf(p, "%d us", (int)us);
    }
    if (us < 1000000) {
        return apr_psprintf(p, "%.1f ms", (double)us / 1e3);
    }
    return apr_psprintf(p, "%.2f s", (double)us / 1e6);
}

static void html_stats_row(request_rec *r, const class_snap_t *cs)
{
    apr_pool_t *p = r->pool;
    const fcgix_stats_view_t *st = &cs->stats;
    int k;

    ap_rprintf(r, "<tr><td>%s</td><td>%s</td>", html(r, cs->label),
               fcgix_status_kind_name(cs->kind));
    if (!cs->has_stats) {
        ap_rputs("<td colspan=\"11\">not counted</td></tr>\n", r);
        return;
    }
    ap_rvputs(r, "<td>", fcgix_status_u64(p, st->requests), "</td><td>",
              apr_ltoa(p, (long)st->in_flight), "</td>", NULL);
    for (k = 0; k < FCGIX_NERR; k++) {
        ap_rvputs(r, "<td>", fcgix_status_u64(p, st->errors[k]), "</td>", NULL);
    }
    ap_rvputs(r, "<td>", human_usec(p, st->mean_us), "</td><td>",
              human_usec(p, st->p50_us), "</td><td>", human_usec(p, st->p99_us),
              "</td><td>", fcgix_status_u64(p, st->bytes_in), "</td><td>",
              fcgix_status_u64(p, st->bytes_out), "</td></tr>\n", NULL);
}

/* Every app's requests, errors and response times. */
static void html_stats(request_rec *r, const snap_t *sn)
{
    int i;

    if (sn->nclasses == 0) {
        return;
    }
    ap_rputs("<h3>Requests</h3>\n<p>Response times over the last full "
             "minute and the current one; counts since httpd started.</p>\n"
             "<table>\n<tr><th>app</th><th>kind</th><th>requests</th>"
             "<th>in flight</th><th>errors: connect</th><th>timeout</th>"
             "<th>protocol</th><th>app 5xx</th><th>mean</th><th>p50</th>"
             "<th>p99</th><th>bytes in</th><th>bytes out</th></tr>\n",
             r);
    for (i = 0; i < sn->nclasses; i++) {
        html_stats_row(r, &sn->classes[i]);
    }
    ap_rputs("</table>\n", r);
}

/* The virtual hosts with processes, a cap, waiting or refused requests. */
static void html_tenants(request_rec *r, const snap_t *sn)
{
    int i;

    if (sn->ntenants == 0) {
        return;
    }
    ap_rputs("<h3>Virtual hosts</h3>\n<table>\n<tr><th>host</th>"
             "<th>processes</th><th>cap</th><th>waiting now</th>"
             "<th>refused since start</th></tr>\n",
             r);
    for (i = 0; i < sn->ntenants; i++) {
        const tenant_snap_t *t = &sn->tenants[i];

        ap_rprintf(r,
                   "<tr><td>%s</td><td>%u</td><td>%s</td><td>%u</td>"
                   "<td>%u</td></tr>\n",
                   html(r, t->host), (unsigned)t->live,
                   cap_text(r->pool, t->max), (unsigned)t->waiting,
                   (unsigned)t->refused);
    }
    ap_rputs("</table>\n", r);
}

/* The identities whose processes the PM counts. */
static void html_users(request_rec *r, const snap_t *sn)
{
    int i;

    if (sn->nusers == 0) {
        return;
    }
    ap_rputs("<h3>Users</h3>\n<table>\n<tr><th>user</th><th>uid</th>"
             "<th>processes</th><th>cap</th></tr>\n",
             r);
    for (i = 0; i < sn->nusers; i++) {
        const user_snap_t *u = &sn->users[i];

        ap_rprintf(r, "<tr><td>%s</td><td>%u</td><td>%u</td><td>%s</td></tr>\n",
                   html(r, u->name), (unsigned)u->uid, (unsigned)u->live,
                   cap_text(r->pool, u->max));
    }
    ap_rputs("</table>\n", r);
}

/* Everything below the page's title; also mod_status's section. */
void fcgix_status_html_sections(request_rec *r, const snap_t *sn)
{
    int i;

    fcgix_status_html_pm(r, sn);
    html_view(r, sn);
    html_totals(r, sn);
    if (sn->waiting_new) {
        ap_rprintf(r,
                   "<p>Requests waiting for a dynamic app's first start: "
                   "%u.</p>\n",
                   (unsigned)sn->waiting_new);
    }
    html_tenants(r, sn);
    html_users(r, sn);
    for (i = 0; i < sn->nclasses; i++) {
        if (sn->classes[i].kind != FCGIX_APP_EXTERNAL) {
            html_class(r, &sn->classes[i]);
        }
    }
    html_externals(r, sn);
    html_members(r, sn);
    html_stats(r, sn);
}

void fcgix_status_html_page(request_rec *r, const snap_t *sn, int refresh)
{
    ap_rputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n", r);
    if (refresh > 0) {
        ap_rprintf(r, "<meta http-equiv=\"refresh\" content=\"%d\">\n",
                   refresh);
    }
    ap_rputs("<title>FastCGI status</title>\n<style>\n"
             "table { border-collapse: collapse; margin-bottom: 1em; }\n"
             "th, td { border: 1px solid #999; padding: 2px 6px; "
             "text-align: left; }\n"
             "</style></head><body>\n<h1>FastCGI status</h1>\n",
             r);
    fcgix_status_html_sections(r, sn);
    ap_rputs("</body></html>\n", r);
}
