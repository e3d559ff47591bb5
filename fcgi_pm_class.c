/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pm_class.c
 * @brief Process manager: classes (static set-up, dynamic allocation,
 *        freeing, eviction at -maxProcesses) and the maintenance pass
 *        (scaling, recycling, updates, hung processes, due starts, leases
 *        of dead holders).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strndup */
#endif

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fcgi_pm_int.h"

/* The maintenance pass runs at least this often (ms). */
#define TICK_MS 1000
/* How often a slot waiting for the verdict on its dead process looks
 * for its answer (fcgix_pm_slot_verdict()), ms. */
#define VERDICT_POLL_MS 5

/* ------------------------------------------------------------------ */
/* Classes                                                             */
/* ------------------------------------------------------------------ */

int fcgix_pm_class_of_slot(const pm_t *pm, int i)
{
    int c;

    for (c = 0; c < pm->nclasses; c++) {
        if (fcgix_pm_class_used(pm, c) && i >= pm->classes[c].first
            && i < pm->classes[c].first + pm->classes[c].nslots) {
            return c;
        }
    }
    return -1;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL) {
        return strdup(".");
    }
    return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

static void free_argv(char **v)
{
    size_t i;

    for (i = 0; v && v[i]; i++) {
        free(v[i]);
    }
    free(v);
}

/* "path base[1..]", or "wrapper user group basename(path) base[1..]"
 * (suexec takes a name relative to its cwd, the path's directory). */
static char **build_argv(const char *const *base, const char *wrapper,
                         const char *user, const char *group, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = 0, i, k = 0, want;
    char **v;

    while (base && base[n]) {
        n++;
    }
    v = calloc(n + 6, sizeof(char *));
    if (v == NULL) {
        return NULL;
    }
    if (wrapper) {
        v[k++] = strdup(wrapper);
        v[k++] = strdup(user);
        v[k++] = strdup(group);
    }
    v[k++] = strdup(wrapper && slash ? slash + 1 : path);
    for (i = 1; i < n; i++) {
        v[k++] = strdup(base[i]);
    }
    for (want = k, k = 0; k < want && v[k]; k++) {
    }
    if (k < want) {
        for (k = 0; k < want; k++) {
            free(v[k]);
        }
        free(v);
        return NULL;
    }
    return v;
}

/* How the process is run: its argv (@base: a command's, NULL: the path
 * alone, or a static app's -argv as given), directly or through
 * @wrapper as @user/@group. */
static int set_command(pclass_t *cls, const char *const *base,
                       const char *wrapper, const char *user, const char *group)
{
    cls->exec_path = wrapper ? wrapper : cls->path;
    if (wrapper && (!user || !*user || !group || !*group)) {
        return -1;
    }
    if (base == NULL && cls->cfg.argv) {
        return 0; /* exec_child() runs cfg.argv, as before */
    }
    cls->argv = build_argv(base, wrapper, user, group, cls->path);
    return cls->argv ? 0 : -1;
}

/* Forget the app class @c held (its slots are empty and unbound). */
static void clear_class(pm_t *pm, int c)
{
    pclass_t *cls = &pm->classes[c];

    free(cls->path);
    free(cls->base);
    free(cls->dir);
    free(cls->user);
    free(cls->group);
    free_argv(cls->argv);
    memset(cls, 0, sizeof(*cls));
    cls->shared_fd = -1;
}

/* A slot as new, for the app its class gets now: nothing of the
 * previous app's process may show on the board (a hung mark would kill
 * the new one); the lease word keeps its epoch and stays closed. */
static void reset_slot(pm_t *pm, int c, int i, int dynamic)
{
    fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);

    memset(&pm->slots[i], 0, sizeof(pm->slots[i]));
    pm->slots[i].fd = -1;
    pm->slots[i].dynamic = dynamic;
    pm->slots[i].cls = c;
    fcgix_pm_slot_set_state(pm, i, FCGIX_SB_EMPTY, 0);
    __atomic_store_n(&s->retiring, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&s->hung, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&s->requests, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&s->total_requests, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&s->last_used_ms, 0, __ATOMIC_RELEASE);
    s->restarts = 0;
    s->started_ms = 0;
    s->backoff_until_ms = 0;
    memset(s->socket_path, 0, sizeof(s->socket_path));
}

/* Board fields of class @c that handlers raise, cleared for a new app. */
static void reset_flags(fcgix_sb_class_t *k)
{
    __atomic_store_n(&k->more_wanted, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&k->update_wanted, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&k->more_tick_ms, 0, __ATOMIC_RELEASE);
    /* not "waiting": handlers that counted themselves there take it back
     * themselves, whichever app the index holds by then */
    __atomic_store_n(&k->capped, 0, __ATOMIC_RELEASE);
    k->failed_starts = 0;
}

/* How long a process of @cfg must live not to count as a failed
 * start. */
static long min_life_of(const fcgix_pm_app_t *cfg)
{
    return cfg->min_server_life_ms > 0 ? cfg->min_server_life_ms
                                       : FCGIX_PM_DEFAULT_MIN_LIFE_MS;
}

/* The requests a process of @cls takes at most, as handlers count them
 * on the board (0: no limit; a -port class's processes share one
 * socket, so that no handler knows which one it got). */
static uint64_t board_max_requests(const pclass_t *cls)
{
    return cls->cfg.max_requests > 0 && cls->cfg.port <= 0
               ? (uint64_t)cls->cfg.max_requests
               : 0;
}

/* Set up class @c (board and private parts) with @n slots from @first,
 * for @req (NULL: a static app, run as @cfg says). */
static int init_class(pm_t *pm, int c, const fcgix_pm_app_t *cfg,
                      const class_req_t *req, const char *base, int first,
                      int n)
{
    pclass_t *cls = &pm->classes[c];
    fcgix_sb_class_t *k = fcgix_sb_class(pm->sb, c);
    const char *path = req ? req->path : cfg->path;
    struct stat st;
    int i, dynamic = req != NULL;

    /* Handlers stop matching the index before its path changes. */
    fcgix_sb_class_begin(k);
    cls->cfg = *cfg;
    cls->dynamic = dynamic;
    cls->shared_fd = -1;
    cls->path = strdup(path);
    cls->base = strdup(base);
    cls->dir = cfg->dir ? strdup(cfg->dir) : dir_of(path);
    if (cls->path == NULL || cls->base == NULL || cls->dir == NULL
        || strlen(path) >= sizeof(k->path)
        || set_command(
               cls, req ? req->argv : NULL, req ? req->wrapper : cfg->wrapper,
               req ? req->user : cfg->user, req ? req->group : cfg->group)
               != 0) {
        clear_class(pm, c);
        return -1;
    }
    if (req) {
        cls->key = req->key;
    }
    else {
        fcgix_sb_key_fastcgi(&cls->key);
    }
    cls->min_life = min_life_of(cfg);
    cls->first = first;
    cls->nslots = n;
    fcgix_pm_class_options(pm, c);
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        reset_slot(pm, c, i, dynamic);
    }
    reset_flags(k);
    strcpy(k->path, path);
    k->key = cls->key;
    k->kind = dynamic ? FCGIX_SB_DYNAMIC : FCGIX_SB_STATIC;
    k->first_slot = (uint32_t)first;
    k->nslots = (uint32_t)n;
    if (stat(path, &st) != 0) {
        st.st_mtime = 0;
        st.st_ino = 0;
    }
    k->mtime_s = (int64_t)st.st_mtime;
    k->inode = (uint64_t)st.st_ino;
    k->max_requests = board_max_requests(cls);
    fcgix_sb_class_end(k);
    return 0;
}

/* Static class @c is no more: its sockets closed, its slots empty, its
 * board record not ready (handlers stop matching it), its index and
 * slots free for another pool. */
static void free_static_class(pm_t *pm, int c)
{
    int i;

    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        fcgix_pm_slot_unbind(pm, i);
        fcgix_pm_slot_set_state(pm, i, FCGIX_SB_EMPTY, 0);
    }
    fcgix_sb_class_begin(fcgix_sb_class(pm->sb, c));
    clear_class(pm, c);
    fcgix_pm_arenas_sweep(pm); /* it may have held the last definitions */
}

/* A path that cannot be bound is an error, not something to retry; a
 * -port socket is bound by the first start, and retried with back-off:
 * the previous PM, or the retiring class of the same pool, may hold the
 * port. */
int fcgix_pm_class_start_static(pm_t *pm, int c, const fcgix_pm_app_t *app,
                                const char *base, int first, int n)
{
    int i;

    if (app->path == NULL || base == NULL
        || init_class(pm, c, app, NULL, base, first, n) != 0) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00513), NULL,
                     getpid(), "app %d: no path, no socket or path too long",
                     c);
        return -1;
    }
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (!fcgix_pm_class_shared(&pm->classes[c])
            && fcgix_pm_slot_bind(pm, c, i)) {
            free_static_class(pm, c);
            return -1;
        }
        pm->slots[i].next_start =
            fcgix_pm_now_ms()
            + (long long)(i - first) * app->init_start_delay_ms;
        fcgix_pm_slot_set_state(pm, i, FCGIX_SB_BACKOFF, 0);
    }
    return 0;
}

/* Static classes: every slot starts now, -init-start-delay apart. The
 * rest of the static room is for pools a graceful restart adds or
 * changes (fcgix_pm_reconcile()). */
int fcgix_pm_classes_init(pm_t *pm)
{
    const fcgix_pm_config_t *cfg = pm->cfg;
    int c, n, first = 0;

    pm->nclasses = pm->static_cap;
    pm->nslots = pm->dyn_slot_base = pm->static_slot_cap;
    for (c = 0; c < cfg->napps; c++) {
        n = cfg->apps[c].processes > 0 ? cfg->apps[c].processes : 1;
        if (fcgix_pm_class_start_static(pm, c, &cfg->apps[c],
                                        cfg->apps[c].socket_base, first, n)
            != 0) {
            return -1;
        }
        first += n;
    }
    return 0;
}

/* Slots of class @c that would take a request now. */
int fcgix_pm_class_open_slots(const pm_t *pm, int c)
{
    int i, open = 0;

    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        open += fcgix_sb_slot_available(pm->sb, c, i);
    }
    return open;
}

/* An exclusive class takes a request only on an idle slot. */
int fcgix_pm_class_ready_slots(const pm_t *pm, int c)
{
    int i, ready = 0;

    if (!pm->classes[c].exclusive) {
        return fcgix_pm_class_open_slots(pm, c);
    }
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        ready += fcgix_sb_slot_available(pm->sb, c, i)
                 && fcgix_sb_users(fcgix_sb_slot(pm->sb, i)) == 0;
    }
    return ready;
}

/* The class of @key and @path in the PM's own records (never the
 * board's), or -1. */
int fcgix_pm_class_find_key(const pm_t *pm, const fcgix_sb_key_t *key,
                            const char *path)
{
    int c;

    for (c = 0; c < pm->nclasses; c++) {
        if (fcgix_pm_class_used(pm, c) && !pm->classes[c].retiring
            && memcmp(&pm->classes[c].key, key, sizeof(*key)) == 0
            && strcmp(pm->classes[c].path, path) == 0) {
            return c;
        }
    }
    return -1;
}

int fcgix_pm_class_find(const pm_t *pm, const char *path)
{
    fcgix_sb_key_t key;

    fcgix_sb_key_fastcgi(&key);
    return fcgix_pm_class_find_key(pm, &key, path);
}

/* A free dynamic class index (one never used, or freed), or -1. Each
 * index has its own slots and socket names, whoever holds it. */
static int free_dynamic_index(const pm_t *pm)
{
    int c, end = pm->static_cap + pm->dyn_classes;

    for (c = pm->static_cap; c < end; c++) {
        if (c >= pm->nclasses || !fcgix_pm_class_used(pm, c)) {
            return c;
        }
    }
    return -1;
}

/* The dynamic class for @req, created if there is room;
 * FCGIX_PM_NO_ROOM or FCGIX_PM_NO_CLASS when there is none. */
int fcgix_pm_class_for(pm_t *pm, const class_req_t *req)
{
    int c = fcgix_pm_class_find_key(pm, &req->key, req->path), first;
    char base[FCGIX_SB_SOCK_MAX];
    const fcgix_pm_app_t *cfg = &pm->cfg->dynamic;

    if (c >= 0) {
        return c;
    }
    c = free_dynamic_index(pm);
    if (c < 0) {
        return FCGIX_PM_NO_ROOM;
    }
    first = pm->dyn_slot_base + (c - pm->static_cap) * pm->dyn_per_class;
    snprintf(base, sizeof(base), "%s%d", pm->cfg->dynamic_base,
             c - pm->static_cap);
    if (init_class(pm, c, cfg, req, base, first, pm->dyn_per_class) != 0) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_ERR, FCGIX_PM_LOGNO(00514), NULL,
                     getpid(), "cannot set up a dynamic class for %s",
                     req->path);
        return FCGIX_PM_NO_CLASS;
    }
    if (c >= pm->nclasses) {
        pm->nclasses = c + 1;
        pm->nslots = first + pm->dyn_per_class;
    }
    fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00515), &pm->classes[c],
                 getpid(), "new dynamic class, up to %d process(es)",
                 pm->classes[c].max_class);
    if (req->key.vocab != FCGIX_SB_VOCAB_FASTCGI || req->key.tenant
        || req->key.uid != FCGIX_SB_NO_ID) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00539),
                     &pm->classes[c], getpid(),
                     "class key: %s vocabulary, tenant %u, command %u, "
                     "uid %ld%s",
                     req->key.vocab == FCGIX_SB_VOCAB_FCGID ? "fcgid"
                                                            : "fastcgi",
                     (unsigned)req->key.tenant, (unsigned)req->key.cmd,
                     req->key.uid == FCGIX_SB_NO_ID ? -1L : (long)req->key.uid,
                     req->key.userdir ? " (userdir)" : "");
    }
    return c;
}

/* Slots of class @c with a process, or one due or being stopped. */
int fcgix_pm_class_slots_used(const pm_t *pm, int c)
{
    int i, used = 0;

    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        used += pm->slots[i].state != FCGIX_SB_EMPTY;
    }
    return used;
}

/* Free dynamic class @c, whose last process is gone: handlers stop
 * finding it first (not ready, new generation), then the PM forgets it;
 * its index and slots go to the next app that needs a class. */
static void free_class(pm_t *pm, int c)
{
    fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00516), &pm->classes[c],
                 getpid(),
                 "no process left; its class is free for another app");
    fcgix_sb_class_begin(fcgix_sb_class(pm->sb, c));
    clear_class(pm, c);
    fcgix_pm_arenas_sweep(pm); /* it may have held a host record's */
}

static void free_unused_classes(pm_t *pm)
{
    int c;

    for (c = pm->static_cap; c < pm->nclasses; c++) {
        if (fcgix_pm_class_used(pm, c) && pm->classes[c].dynamic
            && fcgix_pm_class_slots_used(pm, c) == 0
            && !fcgix_pm_class_awaited(pm, c)) {
            free_class(pm, c);
        }
    }
}

/* A dynamic class on its way to being free: nothing of it runs or is
 * due to start (its last process may still be stopping). */
int fcgix_pm_class_going(const pm_t *pm)
{
    int c, i, live;

    for (c = pm->static_cap; c < pm->nclasses; c++) {
        if (!fcgix_pm_class_used(pm, c) || fcgix_pm_class_awaited(pm, c)) {
            continue;
        }
        live = 0;
        for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
            live += fcgix_pm_slot_live(&pm->slots[i]);
        }
        if (live == 0) {
            return 1;
        }
    }
    return 0;
}

/* Start one more process of dynamic class @c if the limits allow; the
 * cap that held (or none) is shown on the board. */
int fcgix_pm_class_grow(pm_t *pm, int c)
{
    int i, cap = fcgix_pm_class_cap(pm, c);

    __atomic_store_n(&fcgix_sb_class(pm->sb, c)->capped, (uint32_t)cap,
                     __ATOMIC_RELEASE);
    if (cap != FCGIX_SB_CAP_NONE) {
        return -1;
    }
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (pm->slots[i].state == FCGIX_SB_EMPTY) {
            fcgix_pm_spawn(pm, c, i);
            return pm->slots[i].state == FCGIX_SB_RUNNING ? 0 : -1;
        }
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* Maintenance: starts, scaling, recycling, updates                    */
/* ------------------------------------------------------------------ */

/* Class @c's running processes are replaced as they become idle
 * (stop_reason()), @why being UPDATE_*; new requests avoid them
 * meanwhile. */
static void replace_when_idle(pm_t *pm, int c, int why)
{
    int i;

    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        if (pm->slots[i].state == FCGIX_SB_RUNNING) {
            pm->slots[i].update_pending = why;
            __atomic_store_n(&fcgix_sb_slot(pm->sb, i)->retiring, 1,
                             __ATOMIC_RELEASE);
        }
    }
}

/* The file of class @c changed: replace its processes once idle. */
static void take_update(pm_t *pm, int c)
{
    fcgix_sb_class_t *k = fcgix_sb_class(pm->sb, c);
    struct stat st;

    if (stat(pm->classes[c].path, &st) != 0
        || (st.st_mtime == k->mtime_s && (uint64_t)st.st_ino == k->inode)) {
        return;
    }
    k->mtime_s = st.st_mtime;
    k->inode = (uint64_t)st.st_ino;
    fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00517), &pm->classes[c],
                 getpid(),
                 "file changed; replacing its processes as they become idle");
    replace_when_idle(pm, c, UPDATE_FILE);
}

void fcgix_pm_class_redefine(pm_t *pm, int c)
{
    pclass_t *cls = &pm->classes[c];
    const fcgix_pm_app_t *tpl = &pm->cfg->dynamic;
    char *dir = tpl->dir ? strdup(tpl->dir) : dir_of(cls->path);

    if (dir) { /* out of memory: the directory it has */
        free(cls->dir);
        cls->dir = dir;
    }
    cls->cfg = *tpl;
    cls->min_life = min_life_of(tpl);
    fcgix_pm_class_options(pm, c);
    __atomic_store_n(&fcgix_sb_class(pm->sb, c)->max_requests,
                     board_max_requests(cls), __ATOMIC_RELEASE);
    replace_when_idle(pm, c, UPDATE_DEFINITION);
}

/* Wall-clock ms since which slot @i's process has had no request (its
 * start, if it never had one). */
static long long idle_since(const pm_t *pm, int i)
{
    const fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);
    long long since = __atomic_load_n(&s->last_used_ms, __ATOMIC_ACQUIRE);

    return since < s->started_ms ? s->started_ms : since;
}

/* An fcgid class's own stops (FcgidIdleTimeout, FcgidProcessLifeTime),
 * while it has more than its FcgidMinProcessesPerClass live. The caller
 * stops only an idle process. */
static const char *fcgid_stop_reason(pm_t *pm, int c, int i, int *after)
{
    const pclass_t *cls = &pm->classes[c];
    long long now = fcgix_pm_wall_ms();

    if (cls->live <= cls->min_processes) {
        return NULL;
    }
    *after = AFTER_EMPTY;
    if (cls->idle_ms > 0 && now - idle_since(pm, i) >= cls->idle_ms) {
        return "idle longer than FcgidIdleTimeout";
    }
    if (cls->lifetime_ms > 0
        && now - fcgix_sb_slot(pm->sb, i)->started_ms >= cls->lifetime_ms) {
        return "older than FcgidProcessLifeTime";
    }
    *after = AFTER_RESTART;
    return NULL;
}

/* Why a running process should stop now, or NULL; *after says what
 * follows. Only idle processes are stopped: the caller closes the slot
 * first and stops nothing that a request uses. */
static const char *stop_reason(pm_t *pm, int c, int i, int *after)
{
    const pclass_t *cls = &pm->classes[c];
    fcgix_sb_slot_t *s = fcgix_sb_slot(pm->sb, i);

    *after = AFTER_RESTART;
    if (pm->slots[i].update_pending) {
        return pm->slots[i].update_pending == UPDATE_DEFINITION
                   ? "its definition changed at a graceful restart"
                   : "its file changed";
    }
    if (cls->cfg.max_requests > 0 && !fcgix_pm_class_shared(cls)
        && (long)__atomic_load_n(&s->requests, __ATOMIC_ACQUIRE)
               >= cls->cfg.max_requests) {
        __atomic_store_n(&s->retiring, 1, __ATOMIC_RELEASE);
        return "served its -max-requests";
    }
    if (cls->dynamic && cls->key.vocab == FCGIX_SB_VOCAB_FCGID) {
        return fcgid_stop_reason(pm, c, i, after);
    }
    if (!cls->dynamic || pm->dyn_live <= pm->cfg->min_processes
        || pm->cfg->kill_interval_ms <= 0) {
        return NULL;
    }
    if (fcgix_pm_wall_ms() - idle_since(pm, i) >= pm->cfg->kill_interval_ms) {
        *after = AFTER_EMPTY;
        return "idle longer than -killInterval";
    }
    return NULL;
}

/* A request got no answer from this process within -idle-timeout: a
 * hung process would hold every request queued on its socket. Kill it
 * (it may ignore SIGTERM) and start a new one on the same socket, which
 * serves the queued requests; not counted as a failed start. A process
 * whose socket takes no connection (its file was removed) is replaced
 * the same way, on a new socket file. */
static void replace_hung(pm_t *pm, int c, int i, uint32_t why)
{
    pslot_t *ps = &pm->slots[i];

    fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00518), &pm->classes[c],
                 ps->pid, "%s; killing it (SIGKILL) and starting a new one",
                 why == FCGIX_SB_UNREACHABLE
                     ? "takes no connection on its socket (was the socket file "
                       "removed?)"
                     : "did not answer a request within -idle-timeout");
    fcgix_sb_close(fcgix_sb_slot(pm->sb, i));
    ps->after_stop = AFTER_RESTART;
    fcgix_pm_signal(pm->cfg, ps->pid, SIGKILL);
    fcgix_pm_slot_set_state(pm, i, FCGIX_SB_STOPPING, ps->pid);
    if (why == FCGIX_SB_UNREACHABLE) {
        fcgix_pm_slot_unbind(pm,
                             i); /* the new process gets a new socket file */
    }
}

static void maintain_slot(pm_t *pm, int c, int i)
{
    const char *why;
    uint32_t hung;
    int after;

    if (pm->slots[i].state != FCGIX_SB_RUNNING || pm->slots[i].exec_failed) {
        return;
    }
    /* The flag stays set until the new process opens the slot, so that
     * no request takes the old one meanwhile. */
    hung = __atomic_load_n(&fcgix_sb_slot(pm->sb, i)->hung, __ATOMIC_ACQUIRE);
    if (hung) {
        replace_hung(pm, c, i, hung);
        return;
    }
    why = stop_reason(pm, c, i, &after);
    if (why && fcgix_sb_close_if_idle(fcgix_sb_slot(pm->sb, i))) {
        fcgix_pm_slot_stop(pm, c, i, after, why);
    }
}

/* A process started for a START that has not leased it yet is spared
 * this long: taking it away would leave that request with nothing. */
#define FRESH_MS 2000

/* Whether slot @i's process may be stopped to make room for another
 * app: running, no request in it, and not one just started that no
 * request has used yet. */
static int evictable(pm_t *pm, int i)
{
    const pslot_t *ps = &pm->slots[i];

    return ps->state == FCGIX_SB_RUNNING && !ps->exec_failed
           && fcgix_sb_users(fcgix_sb_slot(pm->sb, i)) == 0
           && (fcgix_pm_slot_served(pm, i) > 0
               || fcgix_pm_now_ms() - ps->started >= FRESH_MS);
}

/* At -maxProcesses (or with no class free): stop the least recently used
 * idle process of a dynamic app other than class @except, closing its
 * slot first so that no request can take it meanwhile. 0 when one was
 * stopped, -1 when none is idle. */
/* Whether class @c's processes may make room under @f. */
static int admitted(const pm_t *pm, int c, const evict_filter_t *f)
{
    const fcgix_sb_key_t *k = &pm->classes[c].key;

    return f == NULL
           || ((f->tenant == 0 || k->tenant == f->tenant)
               && (f->uid == FCGIX_SB_NO_ID || k->uid == f->uid));
}

int fcgix_pm_evict_idle(pm_t *pm, int except, const evict_filter_t *filter)
{
    long long oldest = 0;
    int c, i, best = -1, best_c = -1;

    for (c = pm->static_cap; c < pm->nclasses; c++) {
        if (c == except || !fcgix_pm_class_used(pm, c)
            || !pm->classes[c].dynamic || !admitted(pm, c, filter)) {
            continue;
        }
        for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
            if (evictable(pm, i) && (best < 0 || idle_since(pm, i) < oldest)) {
                best = i;
                best_c = c;
                oldest = idle_since(pm, i);
            }
        }
    }
    if (best < 0 || !fcgix_sb_close_if_idle(fcgix_sb_slot(pm->sb, best))) {
        return -1; /* none idle, or a request took it just now */
    }
    fcgix_pm_slot_stop(pm, best_c, best, AFTER_EMPTY,
                       filter == NULL
                           ? "least recently used; making room for another "
                             "app (-maxProcesses)"
                           : "least recently used; making room for another "
                             "app under its virtual host's or user's cap");
    return 0;
}

/* A START waits for dynamic class @c, which has no process at all:
 * start one; at a cap, after stopping an idle process that counts
 * against the same cap (any app's at -maxProcesses, the same tenant's
 * or user's at theirs). */
void fcgix_pm_class_start_with_room(pm_t *pm, int c)
{
    const fcgix_sb_key_t *k = &pm->classes[c].key;
    evict_filter_t f = {0, FCGIX_SB_NO_ID};
    int cap;

    if (!pm->classes[c].dynamic || fcgix_pm_class_slots_used(pm, c) > 0
        || fcgix_pm_class_grow(pm, c) == 0) {
        return;
    }
    cap = fcgix_pm_class_cap(pm, c);
    if (cap == FCGIX_SB_CAP_HOST) {
        f.tenant = k->tenant;
    }
    else if (cap == FCGIX_SB_CAP_USER) {
        f.uid = k->uid;
    }
    else if (cap != FCGIX_SB_CAP_ALL) {
        return;
    }
    if (fcgix_pm_evict_idle(pm, c, cap == FCGIX_SB_CAP_ALL ? NULL : &f) == 0) {
        fcgix_pm_class_grow(pm, c);
    }
}

/* Requests in flight on class @c, and its processes that take them. */
static void class_load(pm_t *pm, int c, int *in_flight, int *live)
{
    int i, users;

    *in_flight = *live = 0;
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        users = fcgix_sb_users(fcgix_sb_slot(pm->sb, i));
        if (users >= 0) {
            *in_flight += users;
            *live += 1;
        }
    }
}

/* A request found every process of dynamic class @c busy: start one
 * more, or as many as the requests in flight need at once (a burst), up
 * to the limits. */
static void scale_up(pm_t *pm, int c)
{
    int in_flight, live, want, started = 0;
    uint32_t waiting =
        __atomic_load_n(&fcgix_sb_class(pm->sb, c)->waiting, __ATOMIC_ACQUIRE);

    class_load(pm, c, &in_flight, &live);
    /* The board's waiting count is a hint from any process of the User:
     * bounded by the class's slots here, by the caps in grow(). */
    if (waiting > (uint32_t)pm->classes[c].nslots) {
        waiting = (uint32_t)pm->classes[c].nslots;
    }
    in_flight += (int)waiting;
    want = in_flight > live + 1 ? in_flight : live + 1;
    while (live + started < want && fcgix_pm_class_grow(pm, c) == 0) {
        started++;
    }
    if (started > 0) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00519),
                     &pm->classes[c], getpid(),
                     "%d request(s) in flight on %d busy process(es); started "
                     "%d more",
                     in_flight, live, started);
    }
}

/* The board mirrors the PM's records: put back the geometry of class @c
 * if something overwrote it, so that handlers find its slots again. */
static void republish_geometry(pm_t *pm, int c)
{
    fcgix_sb_class_t *k = fcgix_sb_class(pm->sb, c);
    const pclass_t *cls = &pm->classes[c];

    if (k->first_slot != (uint32_t)cls->first
        || k->nslots != (uint32_t)cls->nslots) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00520), cls,
                     getpid(),
                     "its slots on the shared board were overwritten "
                     "(first %u, %u slots); restoring them",
                     (unsigned)k->first_slot, (unsigned)k->nslots);
        k->first_slot = (uint32_t)cls->first;
        k->nslots = (uint32_t)cls->nslots;
    }
}

static void maintain_class(pm_t *pm, int c)
{
    fcgix_sb_class_t *k = fcgix_sb_class(pm->sb, c);
    int i;

    republish_geometry(pm, c);
    if (__atomic_exchange_n(&k->update_wanted, 0, __ATOMIC_ACQ_REL)) {
        take_update(pm, c);
    }
    if (__atomic_exchange_n(&k->more_wanted, 0, __ATOMIC_ACQ_REL)
        && pm->classes[c].dynamic) {
        scale_up(pm, c);
    }
    for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
        maintain_slot(pm, c, i);
    }
}

/* A dynamic app whose file is gone or no longer executable cannot
 * start again: drop its restart, so that its class is freed (a new START
 * checks the file again). @return 1 when slot @i was dropped. */
static int gone_for_good(pm_t *pm, int c, int i)
{
    const char *why;

    if (!pm->classes[c].dynamic
        || (why = fcgix_pm_check_executable(pm->classes[c].path)) == NULL) {
        return 0;
    }
    fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00521), &pm->classes[c],
                 getpid(), "cannot be started any more (%s); not restarting it",
                 why);
    fcgix_pm_slot_set_state(pm, i, FCGIX_SB_EMPTY, 0);
    fcgix_pm_slot_unbind(pm, i);
    return 1;
}

/* Start every slot that is due; return ms until the next due start. */
static long long start_due(pm_t *pm)
{
    long long now = fcgix_pm_now_ms(), wait = TICK_MS;
    int c, i;

    for (c = 0; c < pm->nclasses; c++) {
        if (!fcgix_pm_class_used(pm, c)) {
            continue;
        }
        for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
            pslot_t *ps = &pm->slots[i];

            if (ps->state != FCGIX_SB_BACKOFF) {
                continue;
            }
            if (ps->verdict_until && !fcgix_pm_slot_verdict(pm, c, i)) {
                wait = wait > VERDICT_POLL_MS ? VERDICT_POLL_MS : wait;
                continue; /* its answer may still show */
            }
            if (ps->next_start <= now && !gone_for_good(pm, c, i)) {
                fcgix_pm_spawn(pm, c, i);
                now = fcgix_pm_now_ms();
            }
            if (ps->state == FCGIX_SB_BACKOFF && ps->next_start - now < wait) {
                wait = ps->next_start > now ? ps->next_start - now : 0;
            }
        }
    }
    return wait;
}

/* Give back the lease @lease of an httpd process @holder that died
 * while it held it (nobody else ever would: its slot would look busy for
 * good). The slot comes from the board: checked against our own count. */
static void give_back_dead(pm_t *pm, const fcgix_sb_lease_t *lease,
                           pid_t holder)
{
    int c;

    if (lease->slot < 0 || lease->slot >= pm->nslots
        || (c = fcgix_pm_class_of_slot(pm, lease->slot)) < 0
        || !fcgix_sb_lease_current(pm->sb, lease)) {
        return; /* not ours, or its process was replaced since */
    }
    fcgix_sb_return(pm->sb, lease);
    fcgix_pm_log(pm, FCGIX_PM_LOG_WARN, FCGIX_PM_LOGNO(00522), &pm->classes[c],
                 pm->slots[lease->slot].pid,
                 "httpd process %ld died during a request to it; the request's "
                 "lease is given back",
                 (long)holder);
}

/* Leases whose holder died, found once a second (not on every pass of a
 * busy loop): kill(pid, 0) fails with ESRCH only for a pid that is gone
 * (the PM runs as httpd's User, so a live child answers 0). */
static void reclaim_dead_leases(pm_t *pm)
{
    fcgix_sb_lease_t lease;
    uint64_t waits;
    long long now = fcgix_pm_now_ms();
    int32_t pid, last = 0;
    int rec, dead = 0;

    if (now - pm->holders_seen < TICK_MS) {
        return;
    }
    pm->holders_seen = now;
    for (rec = 0; rec < pm->sb->nholders; rec++) {
        pid = fcgix_sb_holder_pid(pm->sb, rec);
        if (pid <= 0) {
            continue;
        }
        if (pid != last) { /* a child's threads sit side by side */
            last = pid;
            dead = kill(pid, 0) != 0 && errno == ESRCH;
        }
        if (dead && fcgix_sb_holder_take(pm->sb, rec, pid, &lease, &waits)) {
            give_back_dead(pm, &lease, pid); /* slot -1: none */
            /* a request that waited for a process when it died */
            fcgix_sb_waits_add(pm->sb, waits, -1);
        }
    }
}

/* How long a retiring class's processes may stay busy: the PM's drain
 * time (httpd's Timeout), as for a whole PM's graceful stop. */
static void retire_step(pm_t *pm, int c)
{
    pclass_t *cls = &pm->classes[c];
    int i;

    fcgix_pm_class_stop_quiet(pm, c, cls->retiring);
    if (fcgix_pm_wall_ms() - cls->retiring >= pm->cfg->drain_ms) {
        for (FCGIX_PM_CLASS_SLOTS(pm, c, i)) {
            if (pm->slots[i].state == FCGIX_SB_RUNNING) {
                fcgix_sb_close(fcgix_sb_slot(pm->sb, i));
                fcgix_pm_slot_stop(pm, c, i, AFTER_EMPTY,
                                   "retired pool, still busy after the "
                                   "drain time");
            }
        }
    }
    if (fcgix_pm_class_slots_used(pm, c) == 0) {
        fcgix_pm_log(pm, FCGIX_PM_LOG_INFO, FCGIX_PM_LOGNO(00547), cls,
                     getpid(),
                     "retired pool: no process left; its class and slots "
                     "are free");
        free_static_class(pm, c);
    }
}

void fcgix_pm_classes_retire(pm_t *pm)
{
    int c;

    for (c = 0; c < pm->static_cap; c++) {
        if (fcgix_pm_class_used(pm, c) && pm->classes[c].retiring) {
            retire_step(pm, c);
        }
    }
}

long long fcgix_pm_maintain(pm_t *pm)
{
    int c;

    reclaim_dead_leases(pm);
    for (c = 0; c < pm->nclasses; c++) {
        if (fcgix_pm_class_used(pm, c) && !pm->classes[c].retiring) {
            maintain_class(pm, c);
        }
    }
    fcgix_pm_classes_retire(pm);
    free_unused_classes(pm);
    fcgix_pm_users_publish(pm);
    fcgix_pm_waiters_answer(pm);
    return start_due(pm);
}
