/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pm_reconcile.c
 * @brief A graceful restart that changes FastCgiServer pools, taken by
 *        the running PM: the pools whose definition did not change keep
 *        their classes and processes; changed and added ones start in
 *        free room of the board's static region; the classes of changed
 *        and removed ones retire (their processes stop once idle, then
 *        the class and its slots are free); the settings of dynamic
 *        apps change in place. Whether anything else changed, httpd's
 *        parent decides before it asks (fcgi_launch_keep.c).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fcgi_pm_int.h"
#include "fcgi_pmconf.h"

static int processes_of(const fcgix_pm_app_t *app)
{
    return app->processes > 0 ? app->processes : 1;
}

/* Whether running static class @c serves @app: the same definition but
 * for its socket names (new apps are named with the new generation; a
 * kept class keeps the names it was started with). */
static int serves(const pm_t *pm, int c, const fcgix_pm_app_t *app)
{
    fcgix_pm_app_t same = *app;

    same.socket_base = pm->classes[c].cfg.socket_base;
    return fcgix_pm_class_used(pm, c) && !pm->classes[c].dynamic
           && !pm->classes[c].retiring
           && fcgix_pmconf_same_app(&pm->classes[c].cfg, &same);
}

/* What the reconcile will do, worked out before anything changes. */
typedef struct {
    char *class_taken; /* static_cap: used, or planned for a new app */
    char *slot_taken;  /* static_slot_cap */
    char *kept;        /* static_cap: a running class an app keeps */
    char *fresh;       /* static_cap: planned for a new app */
    int *first;        /* per new app: its first slot; -1: kept */
} plan_t;

static void plan_free(plan_t *p)
{
    free(p->class_taken);
    free(p->slot_taken);
    free(p->kept);
    free(p->fresh);
    free(p->first);
}

/* n free slots in a row of the static region: the first, or -1. */
static int free_run(const pm_t *pm, const plan_t *p, int n)
{
    int i, run = 0;

    for (i = 0; i < pm->static_slot_cap; i++) {
        run = p->slot_taken[i] ? 0 : run + 1;
        if (run == n) {
            return i - n + 1;
        }
    }
    return -1;
}

static int make_plan(const pm_t *pm, const fcgix_pm_config_t *next, int *map,
                     plan_t *p)
{
    int c, j, i;

    p->class_taken = calloc((size_t)pm->static_cap + 1, 1);
    p->slot_taken = calloc((size_t)pm->static_slot_cap + 1, 1);
    p->kept = calloc((size_t)pm->static_cap + 1, 1);
    p->fresh = calloc((size_t)pm->static_cap + 1, 1);
    p->first = calloc((size_t)next->napps + 1, sizeof(int));
    if (!p->class_taken || !p->slot_taken || !p->kept || !p->fresh
        || !p->first) {
        return -1;
    }
    for (c = 0; c < pm->static_cap; c++) {
        if (fcgix_pm_class_used(pm, c)) { /* retiring ones too */
            p->class_taken[c] = 1;
            for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
                p->slot_taken[i] = 1;
            }
        }
    }
    for (j = 0; j < next->napps; j++) {
        map[j] = -1;
        p->first[j] = -1;
        for (c = 0; c < pm->static_cap && map[j] < 0; c++) {
            if (!p->kept[c] && serves(pm, c, &next->apps[j])) {
                map[j] = c;
                p->kept[c] = 1;
            }
        }
    }
    for (j = 0; j < next->napps; j++) {
        int n = processes_of(&next->apps[j]);

        if (map[j] >= 0) {
            continue;
        }
        c = 0;
        while (c < pm->static_cap && p->class_taken[c]) {
            c++;
        }
        p->first[j] = free_run(pm, p, n);
        if (c >= pm->static_cap || p->first[j] < 0) {
            return -1;
        }
        map[j] = c;
        p->class_taken[c] = 1;
        p->fresh[c] = 1;
        memset(p->slot_taken + p->first[j], 1, (size_t)n);
    }
    return 0;
}

/* Start the planned new classes; on a failure, retire those started. */
static int start_new(pm_t *pm, const fcgix_pm_config_t *next, const int *map,
                     const plan_t *p)
{
    int j, k;

    for (j = 0; j < next->napps; j++) {
        if (p->first[j] < 0) {
            continue;
        }
        if (fcgix_pm_class_start_static(pm, map[j], &next->apps[j],
                                        next->apps[j].socket_base, p->first[j],
                                        processes_of(&next->apps[j]))
            != 0) {
            for (k = 0; k < j; k++) {
                if (p->first[k] >= 0) {
                    pm->classes[map[k]].retiring = fcgix_pm_wall_ms();
                }
            }
            return -1;
        }
        fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00548),
                     &pm->classes[map[j]], getpid(),
                     "graceful restart: new or changed pool, %d process(es)",
                     processes_of(&next->apps[j]));
    }
    return 0;
}

/* The running classes no app kept retire. */
static void retire_the_rest(pm_t *pm, const plan_t *p)
{
    long long now = fcgix_pm_wall_ms();
    int c;

    for (c = 0; c < pm->static_cap; c++) {
        if (fcgix_pm_class_used(pm, c) && !pm->classes[c].retiring
            && !p->kept[c] && !p->fresh[c]) {
            pm->classes[c].retiring = now;
            fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00550),
                         &pm->classes[c], getpid(),
                         "graceful restart: pool changed or removed; its "
                         "processes stop once idle");
        }
    }
}

int fcgix_pm_reconcile(pm_t *pm, const fcgix_pm_config_t *next, int *map)
{
    plan_t p;
    int rc;

    memset(&p, 0, sizeof(p));
    rc = make_plan(pm, next, map, &p) == 0 ? 0 : FCGIX_PM_NO_ROOM;
    if (rc != 0) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00549), NULL,
                     getpid(),
                     "graceful restart: no room on the board for the new or "
                     "changed pools next to the old ones (%d classes, %d "
                     "slots); httpd starts a new process manager",
                     pm->static_cap, pm->static_slot_cap);
    }
    if (rc == 0 && start_new(pm, next, map, &p) != 0) {
        rc = FCGIX_PM_NO_CLASS;
    }
    if (rc == 0) {
        retire_the_rest(pm, &p);
    }
    plan_free(&p);
    return rc;
}

/* Whether templates @a and @b start the same processes. The room per
 * class is left out: the PM keeps its board's (@a's). */
static int same_template(const fcgix_pm_app_t *a, const fcgix_pm_app_t *b)
{
    fcgix_pm_app_t same = *b;

    same.processes = a->processes;
    return fcgix_pmconf_same_app(a, &same);
}

static int same_limits(const fcgix_pm_config_t *a, const fcgix_pm_config_t *b)
{
    return a->max_processes == b->max_processes
           && a->min_processes == b->min_processes
           && a->kill_interval_ms == b->kill_interval_ms
           && a->start_wait_ms == b->start_wait_ms && a->drain_ms == b->drain_ms
           && a->max_user_processes == b->max_user_processes
           && a->fastcgi_class_max == b->fastcgi_class_max;
}

void fcgix_pm_settings_take(pm_t *pm, const fcgix_pm_config_t *next)
{
    fcgix_pm_config_t *live = &pm->live;
    int redefine = !same_template(&live->dynamic, &next->dynamic);
    int room = live->dynamic.processes, c, n = 0;

    if (!redefine && same_limits(live, next)) {
        return;
    }
    live->max_processes = next->max_processes;
    live->min_processes = next->min_processes;
    live->kill_interval_ms = next->kill_interval_ms;
    live->start_wait_ms = next->start_wait_ms;
    live->drain_ms = next->drain_ms;
    live->max_user_processes = next->max_user_processes;
    live->fastcgi_class_max = next->fastcgi_class_max;
    if (redefine) {
        live->dynamic = next->dynamic;
        live->dynamic.processes = room;
    }
    for (c = pm->static_cap; c < pm->nclasses; c++) {
        if (!fcgix_pm_class_used(pm, c) || !pm->classes[c].dynamic) {
            continue;
        }
        n++;
        if (redefine) {
            fcgix_pm_class_redefine(pm, c);
        }
        else {
            fcgix_pm_class_options(pm, c); /* -maxClassProcesses */
        }
    }
    fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00554), NULL, getpid(),
                 "graceful restart: new settings for dynamic apps taken (at "
                 "most %d processes, %d kept when idle, idle stop after %d "
                 "ms, drain time %d ms); %d dynamic class(es) %s",
                 live->max_processes, live->min_processes,
                 live->kill_interval_ms, live->drain_ms, n,
                 redefine ? "take FastCgiConfig's new options and replace "
                            "their running processes as they become idle"
                          : "keep their processes");
}

int fcgix_pm_arena_keep(pm_t *pm, void *mem, size_t size)
{
    pm_arena_t *more =
        realloc(pm->arenas, (size_t)(pm->narenas + 1) * sizeof(*more));

    if (more == NULL) {
        return -1;
    }
    pm->arenas = more;
    pm->arenas[pm->narenas].mem = mem;
    pm->arenas[pm->narenas].size = size;
    pm->narenas++;
    return 0;
}

static int inside(const void *p, const pm_arena_t *a)
{
    uintptr_t at = (uintptr_t)p, start = (uintptr_t)a->mem;

    return p != NULL && at >= start && at - start < a->size;
}

/* Whether definition @d points into @a. */
static int app_uses(const fcgix_pm_app_t *d, const pm_arena_t *a)
{
    return inside(d->path, a) || inside(d->socket_base, a) || inside(d->argv, a)
           || inside(d->env, a) || inside(d->dir, a) || inside(d->wrapper, a)
           || inside(d->user, a) || inside(d->group, a);
}

/* Whether class @c's definition points into @a: what fcgix_pm_class
 * start took from the definitions it was given (its own copies of the
 * path, socket base and directory are not). */
static int class_uses(const pm_t *pm, int c, const pm_arena_t *a)
{
    const pclass_t *cls = &pm->classes[c];

    return app_uses(&cls->cfg, a) || inside(cls->exec_path, a);
}

static int tenants_use(const pm_t *pm, const pm_arena_t *a)
{
    int t;

    if (inside(pm->tenants, a) || inside(pm->commands, a)) {
        return 1;
    }
    for (t = 0; t < pm->ntenants; t++) {
        if (inside(pm->tenants[t].name, a) || inside(pm->tenants[t].opts.env, a)
            || inside(pm->tenants[t].cmdopts, a)) {
            return 1;
        }
    }
    return 0;
}

static int arena_used(const pm_t *pm, const pm_arena_t *a)
{
    int c;

    if (tenants_use(pm, a) || app_uses(&pm->live.dynamic, a)) {
        return 1;
    }
    for (c = 0; c < pm->nclasses; c++) {
        if (fcgix_pm_class_used(pm, c) && class_uses(pm, c, a)) {
            return 1;
        }
    }
    return 0;
}

void fcgix_pm_arenas_sweep(pm_t *pm)
{
    int i, kept = 0;

    if (pm->arenas_pinned) {
        return;
    }
    for (i = 0; i < pm->narenas; i++) {
        if (arena_used(pm, &pm->arenas[i])) {
            pm->arenas[kept++] = pm->arenas[i];
        }
        else {
            free(pm->arenas[i].mem);
        }
    }
    pm->narenas = kept;
}
