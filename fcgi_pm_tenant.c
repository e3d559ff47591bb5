/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pm_tenant.c
 * @brief Process manager: what STARTC adds (docs/design/fcgid.md 3.4-3.6,
 *        4): requests checked against the PM's own tables, class options
 *        per tenant and command, the per-class, per-tenant and per-user
 *        caps on the PM's own counts, and their copies on the board.
 *
 * Every index here comes from a control client (any process of the User)
 * and is checked against the configuration's counts, which httpd's
 * parent built in its private memory; the board's copies are never read
 * back to decide anything.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcgi_pm_int.h"
#include "fcgi_pmconf.h"

/* Cap refusals are logged at most this often per tenant (ms). */
#define CAPLOG_MS 10000

/* Publish the caps of the first @p n virtual hosts on the board. */
static void publish_caps(pm_t *pm, int n)
{
    int t;

    for (t = 0; t < n; t++) {
        fcgix_sb_tenant_t *bt = fcgix_sb_tenant(pm->sb, t);

        if (bt) {
            __atomic_store_n(&bt->max, (uint32_t)pm->tenants[t].max_processes,
                             __ATOMIC_RELEASE);
        }
    }
}

int fcgix_pm_tenants_init(pm_t *pm)
{
    const fcgix_pm_config_t *cfg = pm->cfg;
    int t, n = cfg->ntenants > 0 ? cfg->ntenants : 0;

    pm->tenants = cfg->tenants;
    pm->ntenants = n;
    pm->commands = cfg->commands;
    pm->ncommands = cfg->ncommands > 0 ? cfg->ncommands : 0;
    pm->tenant_cap =
        pm->sb && (int)pm->sb->ntenants > n ? (int)pm->sb->ntenants : n;
    pm->tenant_live = calloc((size_t)pm->tenant_cap + 1, sizeof(int));
    pm->tenant_log = calloc((size_t)pm->tenant_cap + 1, sizeof(caplog_t));
    if (pm->tenant_live == NULL || pm->tenant_log == NULL) {
        return -1;
    }
    for (t = 0; t < pm->tenant_cap; t++) {
        fcgix_sb_tenant_t *bt = fcgix_sb_tenant(pm->sb, t);

        if (bt) {
            __atomic_store_n(&bt->live, 0, __ATOMIC_RELEASE);
            __atomic_store_n(&bt->max, 0, __ATOMIC_RELEASE);
        }
    }
    publish_caps(pm, n);
    return 0;
}

void fcgix_pm_tenants_free(pm_t *pm)
{
    free(pm->tenant_live);
    free(pm->tenant_log);
    pm->tenant_live = NULL;
    pm->tenant_log = NULL;
    pm->tenants = NULL;
    pm->ntenants = 0;
}

/* @p tables' virtual hosts and commands as one block of their own
 * (fcgi_pmconf's encoding, decoded into an arena the PM keeps) in
 * @p copy. @return 0, or -1 out of memory. */
static int copy_tables(pm_t *pm, const fcgix_pm_config_t *tables,
                       fcgix_pm_config_t *copy)
{
    size_t len = fcgix_pmconf_encode(tables, NULL, 0);
    size_t size = len * 4 + 4096; /* always enough (fcgi_pmconf.h) */
    unsigned char *buf = malloc(len);
    void *arena = NULL;

    memset(copy, 0, sizeof(*copy));
    if (buf != NULL && fcgix_pmconf_encode(tables, buf, len) == len
        && (arena = malloc(size)) != NULL
        && (fcgix_pmconf_decode(buf, len, copy, arena, size) != FCGIX_PMCONF_OK
            || fcgix_pm_arena_keep(pm, arena, size) != 0)) {
        free(arena);
        arena = NULL;
    }
    free(buf);
    if (copy->ntenants == 0) {
        copy->tenants = NULL; /* an empty table holds no arena */
    }
    if (copy->ncommands == 0) {
        copy->commands = NULL;
    }
    return arena ? 0 : -1;
}

/* Whether @p n numbers fit: no fewer than this PM knows (they would not
 * be numbered as it knows them), at most @p cap. Logged when not. */
static int numbers_fit(const pm_t *pm, const char *what, int n, int known,
                       int cap)
{
    if (n >= known && n <= cap) {
        return 1;
    }
    fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00553), NULL, getpid(),
                 "graceful restart: the new %s do not fit this process "
                 "manager (%d numbers, room for %d, %d known); httpd starts "
                 "a new process manager",
                 what, n, cap, known);
    return 0;
}

int fcgix_pm_tables_merge(pm_t *pm, const fcgix_pm_config_t *next,
                          fcgix_pm_config_t *merged)
{
    fcgix_pm_config_t all;
    fcgix_pm_tenant_t *tenants;
    fcgix_pm_command_t *commands;
    int t, nt = next->ntenants > 0 ? next->ntenants : 0,
           nc = next->ncommands > 0 ? next->ncommands : 0, rc;

    memset(merged, 0, sizeof(*merged));
    if (!numbers_fit(pm, "virtual hosts", nt, pm->ntenants, pm->tenant_cap)
        || !numbers_fit(pm, "commands", nc, pm->ncommands,
                        FCGIX_PM_MAX_COMMANDS)) {
        return FCGIX_PM_NO_ROOM;
    }
    tenants = calloc((size_t)nt + 1, sizeof(*tenants));
    commands = calloc((size_t)nc + 1, sizeof(*commands));
    for (t = 0; tenants && t < nt; t++) {
        tenants[t] = next->tenants[t].name == NULL && t < pm->ntenants
                         ? pm->tenants[t]
                         : next->tenants[t];
    }
    for (t = 0; commands && t < nc; t++) {
        commands[t] = next->commands[t].argv == NULL && t < pm->ncommands
                          ? pm->commands[t]
                          : next->commands[t];
    }
    memset(&all, 0, sizeof(all));
    all.tenants = tenants;
    all.ntenants = nt;
    all.commands = commands;
    all.ncommands = nc;
    rc = tenants && commands && copy_tables(pm, &all, merged) == 0
             ? 0
             : FCGIX_PM_NO_MEMORY;
    free(tenants);
    free(commands);
    return rc;
}

void fcgix_pm_tables_adopt(pm_t *pm, const fcgix_pm_config_t *merged)
{
    pm->tenants = merged->tenants;
    pm->ntenants = merged->ntenants;
    pm->commands = merged->commands;
    pm->ncommands = merged->ncommands;
    publish_caps(pm, pm->ntenants);
}

/* The tenant index of class @c's key, checked; -1: none. */
static int tenant_of(const pm_t *pm, int c)
{
    uint32_t t = pm->classes[c].key.tenant;

    return t > 0 && t <= (uint32_t)pm->ntenants ? (int)t - 1 : -1;
}

void fcgix_pm_tenant_count(pm_t *pm, int c, int delta)
{
    fcgix_sb_tenant_t *bt;
    int t;

    if (c < 0 || c >= pm->nclasses || delta == 0) {
        return;
    }
    pm->classes[c].live += delta;
    if ((t = tenant_of(pm, c)) < 0 || pm->tenant_live == NULL) {
        return;
    }
    pm->tenant_live[t] += delta;
    if ((bt = fcgix_sb_tenant(pm->sb, t)) != NULL) {
        __atomic_store_n(&bt->live, (uint32_t)pm->tenant_live[t],
                         __ATOMIC_RELEASE);
    }
}

int fcgix_pm_user_live(const pm_t *pm, uint32_t uid)
{
    int c, live = 0;

    if (uid == FCGIX_SB_NO_ID) {
        return 0;
    }
    for (c = pm->static_cap; c < pm->nclasses; c++) {
        if (fcgix_pm_class_used(pm, c) && pm->classes[c].key.uid == uid) {
            live += pm->classes[c].live;
        }
    }
    return live;
}

int fcgix_pm_class_cap(const pm_t *pm, int c)
{
    const pclass_t *cls = &pm->classes[c];
    int max = pm->cfg->max_processes > 0 ? pm->cfg->max_processes
                                         : FCGIX_PM_DEFAULT_MAX_PROCESSES;
    int t = tenant_of(pm, c);

    if (pm->dyn_live >= max) {
        return FCGIX_SB_CAP_ALL;
    }
    if (cls->max_class > 0 && cls->live >= cls->max_class) {
        return FCGIX_SB_CAP_CLASS;
    }
    if (t >= 0 && pm->tenants[t].max_processes > 0
        && pm->tenant_live[t] >= pm->tenants[t].max_processes) {
        return FCGIX_SB_CAP_HOST;
    }
    if (pm->cfg->max_user_processes > 0 && cls->key.uid != FCGIX_SB_NO_ID
        && fcgix_pm_user_live(pm, cls->key.uid)
               >= pm->cfg->max_user_processes) {
        return FCGIX_SB_CAP_USER;
    }
    return FCGIX_SB_CAP_NONE;
}

/* The record of @uid among the first @n, or -1. */
static int user_record(const pm_t *pm, int n, uint32_t uid)
{
    int i;

    for (i = 0; i < n; i++) {
        if (fcgix_sb_user(pm->sb, i)->uid == uid) {
            return i;
        }
    }
    return -1;
}

void fcgix_pm_users_publish(pm_t *pm)
{
    int c, n = 0, r;
    fcgix_sb_user_t *u;

    for (c = pm->static_cap; c < pm->nclasses && n < pm->sb->nusers; c++) {
        uint32_t uid = pm->classes[c].key.uid;

        if (!fcgix_pm_class_used(pm, c) || uid == FCGIX_SB_NO_ID
            || user_record(pm, n, uid) >= 0) {
            continue;
        }
        u = fcgix_sb_user(pm->sb, n++);
        u->uid = uid;
        u->max = (uint32_t)pm->cfg->max_user_processes;
        u->live = (uint32_t)fcgix_pm_user_live(pm, uid);
    }
    for (r = n; r < pm->sb->nusers; r++) {
        u = fcgix_sb_user(pm->sb, r);
        u->uid = FCGIX_SB_NO_ID;
        u->live = u->max = 0;
    }
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

/* A decimal id of the handler's suexec identity, 1..FCGIX_SB_NO_ID - 1:
 * the PM resolves no names (no NSS lookups in its loop). */
static int parse_id(const char *s, uint32_t *out)
{
    unsigned long long v = 0;
    size_t i, n = strlen(s);

    if (n == 0 || n > 10 || (n > 1 && s[0] == '0')) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    if (v >= FCGIX_SB_NO_ID) {
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* STARTC's identity: numeric, never root, only with a wrapper. */
static const char *check_identity(pm_t *pm, const fcgix_ctl_request_t *in,
                                  class_req_t *req)
{
    uint32_t uid, gid;

    if (in->user[0] == '\0') {
        return NULL;
    }
    req->wrapper =
        in->vocab == FCGIX_CTL_VOCAB_FASTCGI && pm->cfg->dynamic.wrapper
            ? pm->cfg->dynamic.wrapper
            : pm->cfg->suexec;
    if (req->wrapper == NULL) {
        return "an identity without suexec";
    }
    if (parse_id(in->user, &uid) != 0 || parse_id(in->group, &gid) != 0) {
        return "an identity that is not numeric";
    }
    if (uid == 0 || gid == 0) {
        return "uid or gid 0";
    }
    req->key.uid = uid;
    req->key.gid = gid;
    req->key.userdir = (uint32_t)in->userdir;
    snprintf(req->user, sizeof(req->user), "%s%s", in->userdir ? "~" : "",
             in->user);
    snprintf(req->group, sizeof(req->group), "%s", in->group);
    return NULL;
}

/* STARTC's tenant and command, against the configuration's counts. */
static const char *check_indexes(pm_t *pm, const fcgix_ctl_request_t *in,
                                 class_req_t *req)
{
    if (in->tenant > (unsigned)pm->ntenants
        || (in->tenant > 0 && pm->tenants[in->tenant - 1].name == NULL)) {
        return "bad tenant";
    }
    if (in->cmd > (unsigned)pm->ncommands) {
        return "bad command";
    }
    if (in->cmd > 0) {
        req->argv = pm->commands[in->cmd - 1].argv;
        if (req->argv == NULL || req->argv[0] == NULL
            || strcmp(req->argv[0], in->path) != 0) {
            return "path is not the command's program";
        }
    }
    return NULL;
}

/* START and STARTAS: the FastCgi key without tenant or identity, run as
 * today (STARTAS: the template's wrapper with the names given), so that
 * today's handlers find their classes. */
static void legacy_request(pm_t *pm, const fcgix_ctl_request_t *in,
                           class_req_t *req)
{
    const fcgix_pm_app_t *tpl = &pm->cfg->dynamic;
    int as = in->verb == FCGIX_CTL_STARTAS;

    req->wrapper = tpl->wrapper;
    snprintf(req->user, sizeof(req->user), "%s",
             as ? in->user : (tpl->user ? tpl->user : ""));
    snprintf(req->group, sizeof(req->group), "%s",
             as ? in->group : (tpl->group ? tpl->group : ""));
}

const char *fcgix_pm_request_check(pm_t *pm, const fcgix_ctl_request_t *in,
                                   class_req_t *req, char *why, size_t cap)
{
    const char *bad;

    memset(req, 0, sizeof(*req));
    fcgix_sb_key_fastcgi(&req->key);
    snprintf(req->path, sizeof(req->path), "%s", in->path);
    if (in->verb != FCGIX_CTL_STARTC) {
        legacy_request(pm, in, req);
        return NULL;
    }
    fcgix_sb_key_set(&req->key, (uint32_t)in->vocab, in->tenant, in->cmd,
                     FCGIX_SB_NO_ID, FCGIX_SB_NO_ID, 0);
    if ((bad = check_indexes(pm, in, req)) == NULL) {
        bad = check_identity(pm, in, req);
    }
    if (bad) {
        snprintf(why, cap, "%s: %s (STARTC %c %u %u)", in->path, bad,
                 in->vocab == FCGIX_CTL_VOCAB_FCGID ? 'f' : 'x', in->tenant,
                 in->cmd);
        return why;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

/* The options of an fcgid class of tenant @t for @path: its
 * FcgidCmdOptions entry, else the tenant's own. */
static const fcgix_pm_class_opts_t *fcgid_opts(const pm_t *pm, int t,
                                               const char *path)
{
    const fcgix_pm_tenant_t *ten = &pm->tenants[t];
    int i;

    for (i = 0; i < ten->ncmdopts; i++) {
        if (ten->cmdopts[i].path && strcmp(ten->cmdopts[i].path, path) == 0) {
            return &ten->cmdopts[i].opts;
        }
    }
    return &ten->opts;
}

void fcgix_pm_class_options(pm_t *pm, int c)
{
    pclass_t *cls = &pm->classes[c];
    const fcgix_pm_class_opts_t *o;
    int t = tenant_of(pm, c);

    cls->max_class = cls->nslots;
    if (cls->key.vocab != FCGIX_SB_VOCAB_FCGID) {
        /* FastCgiConfig's template, set by init_class(); its
         * -maxClassProcesses, however much room the fcgid classes need */
        if (pm->cfg->fastcgi_class_max > 0
            && pm->cfg->fastcgi_class_max < cls->nslots) {
            cls->max_class = pm->cfg->fastcgi_class_max;
        }
        return;
    }
    cls->exclusive = 1;
    if (t < 0) {
        return;
    }
    o = fcgid_opts(pm, t, cls->path);
    if (o->env) {
        cls->cfg.env = o->env;
    }
    cls->cfg.max_requests = o->max_requests;
    if (o->max_class_processes > 0 && o->max_class_processes < cls->nslots) {
        cls->max_class = o->max_class_processes;
    }
    cls->min_processes = o->min_class_processes;
    cls->idle_ms = o->idle_ms;
    cls->lifetime_ms = o->lifetime_ms;
}

/* ------------------------------------------------------------------ */
/* Cap answers                                                         */
/* ------------------------------------------------------------------ */

/* Whether a refusal under @log is logged now; counts it otherwise. */
static int caplog_due(caplog_t *log, unsigned long *before)
{
    long long now = fcgix_pm_now_ms();

    if (log->last_ms != 0 && now - log->last_ms < CAPLOG_MS) {
        log->unlogged++;
        return 0;
    }
    *before = log->unlogged;
    log->last_ms = now;
    log->unlogged = 0;
    return 1;
}

const char *fcgix_pm_cap_busy(pm_t *pm, int c, char *why, size_t cap)
{
    const pclass_t *cls = &pm->classes[c];
    int held = fcgix_pm_class_cap(pm, c), t = tenant_of(pm, c);
    unsigned long more;

    if (held == FCGIX_SB_CAP_HOST) {
        snprintf(why, cap, "virtual host %s is at its process cap (%d)",
                 pm->tenants[t].name ? pm->tenants[t].name : "?",
                 pm->tenants[t].max_processes);
        if (caplog_due(&pm->tenant_log[t], &more)) {
            fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00537), cls,
                         getpid(), "%s (%lu more refusals not logged)", why,
                         more);
        }
        return why;
    }
    if (held == FCGIX_SB_CAP_USER) {
        snprintf(why, cap, "user %u is at its process cap (%d)",
                 (unsigned)cls->key.uid, pm->cfg->max_user_processes);
        if (caplog_due(&pm->user_log, &more)) {
            fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00538), cls,
                         getpid(), "%s (%lu more refusals not logged)", why,
                         more);
        }
        return why;
    }
    return NULL;
}
