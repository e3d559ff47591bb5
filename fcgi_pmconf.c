/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  fcgi_pmconf.c
 * @brief The PM's definitions as bytes (see fcgi_pmconf.h).
 *
 * Layout: "FXPC", a 32-bit version, then the fields in the order of the
 * code below. Integers are big-endian, 32 bits (64 for request counts);
 * a string is its 32-bit length then its bytes, a list its 32-bit count
 * then its strings; NIL_LEN in place of a length or count means NULL.
 */

#include <stdint.h>
#include <string.h>

#include "fcgi_pmconf.h"

#define MAGIC "FXPC"
#define NIL_LEN 0xFFFFFFFFu

/* ------------------------------------------------------------------ */
/* Writing                                                             */
/* ------------------------------------------------------------------ */

/* Bytes go to buf while they fit; pos counts them all. */
typedef struct {
    unsigned char *buf;
    size_t size, pos;
} writer_t;

static void put_bytes(writer_t *w, const void *p, size_t n)
{
    if (n > 0 && w->pos <= w->size && n <= w->size - w->pos) {
        memcpy(w->buf + w->pos, p, n);
    }
    w->pos += n;
}

static void put_u32(writer_t *w, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};

    put_bytes(w, b, sizeof(b));
}

static void put_int(writer_t *w, int v)
{
    put_u32(w, (uint32_t)v);
}

static void put_long(writer_t *w, long v)
{
    uint64_t u = (uint64_t)(int64_t)v;

    put_u32(w, (uint32_t)(u >> 32));
    put_u32(w, (uint32_t)u);
}

static void put_str(writer_t *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    put_u32(w, s ? (uint32_t)n : NIL_LEN);
    put_bytes(w, s, n);
}

static void put_list(writer_t *w, const char *const *list)
{
    uint32_t n = 0;

    while (list && list[n]) {
        n++;
    }
    put_u32(w, list ? n : NIL_LEN);
    for (uint32_t i = 0; i < n; i++) {
        put_str(w, list[i]);
    }
}

static void put_app(writer_t *w, const fcgix_pm_app_t *a)
{
    put_str(w, a->path);
    put_str(w, a->socket_base);
    put_int(w, a->processes);
    put_int(w, a->listen_queue_depth);
    put_list(w, a->argv);
    put_list(w, a->env);
    put_str(w, a->dir);
    put_int(w, a->restart_delay_ms);
    put_int(w, a->min_server_life_ms);
    put_long(w, a->max_requests);
    put_int(w, a->init_start_delay_ms);
    put_int(w, a->priority);
    put_int(w, a->port);
    put_str(w, a->wrapper);
    put_str(w, a->user);
    put_str(w, a->group);
}

static void put_class_opts(writer_t *w, const fcgix_pm_class_opts_t *o)
{
    put_list(w, o->env);
    put_int(w, o->max_class_processes);
    put_int(w, o->min_class_processes);
    put_int(w, o->idle_ms);
    put_int(w, o->lifetime_ms);
    put_long(w, o->max_requests);
}

static void put_tenant(writer_t *w, const fcgix_pm_tenant_t *t)
{
    put_str(w, t->name);
    put_int(w, t->max_processes);
    put_class_opts(w, &t->opts);
    put_int(w, t->ncmdopts);
    for (int i = 0; i < t->ncmdopts; i++) {
        put_str(w, t->cmdopts[i].path);
        put_class_opts(w, &t->cmdopts[i].opts);
    }
}

size_t fcgix_pmconf_encode_tenant(const fcgix_pm_tenant_t *t,
                                  unsigned char *buf, size_t size)
{
    writer_t w = {buf, buf ? size : 0, 0};

    put_tenant(&w, t);
    return w.pos;
}

size_t fcgix_pmconf_encode(const fcgix_pm_config_t *c, unsigned char *buf,
                           size_t size)
{
    writer_t w = {buf, buf ? size : 0, 0};

    put_bytes(&w, MAGIC, 4);
    put_u32(&w, FCGIX_PMCONF_VERSION);
    put_int(&w, c->napps);
    for (int i = 0; i < c->napps; i++) {
        put_app(&w, &c->apps[i]);
    }
    put_app(&w, &c->dynamic);
    put_str(&w, c->control_path);
    put_str(&w, c->dynamic_base);
    put_str(&w, c->suexec);
    put_int(&w, c->max_processes);
    put_int(&w, c->min_processes);
    put_int(&w, c->kill_interval_ms);
    put_int(&w, c->start_wait_ms);
    put_int(&w, c->drain_ms);
    put_int(&w, c->max_user_processes);
    put_int(&w, c->fastcgi_class_max);
    put_int(&w, c->ntenants);
    for (int i = 0; i < c->ntenants; i++) {
        put_tenant(&w, &c->tenants[i]);
    }
    put_int(&w, c->ncommands);
    for (int i = 0; i < c->ncommands; i++) {
        put_list(&w, c->commands[i].argv);
    }
    return w.pos;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */
/* ------------------------------------------------------------------ */

/* The bytes being read and the arena being filled. The first problem
 * sticks: every later read gives zeros and NULLs. */
typedef struct {
    const unsigned char *p;
    size_t len, pos;
    unsigned char *arena;
    size_t arena_size, used;
    int status;
} reader_t;

static int failed(const reader_t *r)
{
    return r->status != FCGIX_PMCONF_OK;
}

static void fail(reader_t *r, int status)
{
    if (!failed(r)) {
        r->status = status;
    }
}

/* n bytes of the arena; aligned for pointers and integers when asked. */
static void *take(reader_t *r, size_t n, int aligned)
{
    size_t at = r->used;
    uintptr_t addr;

    if (failed(r)) {
        return NULL;
    }
    if (aligned) {
        addr = (uintptr_t)(r->arena + at);
        at += (sizeof(void *) - addr % sizeof(void *)) % sizeof(void *);
    }
    if (at > r->arena_size || n > r->arena_size - at) {
        fail(r, FCGIX_PMCONF_NO_ROOM);
        return NULL;
    }
    r->used = at + n;
    return r->arena + at;
}

static const unsigned char *get_bytes(reader_t *r, size_t n)
{
    const unsigned char *at = r->p + r->pos;

    if (failed(r) || n > r->len - r->pos) {
        fail(r, FCGIX_PMCONF_MALFORMED);
        return NULL;
    }
    r->pos += n;
    return at;
}

static uint32_t get_u32(reader_t *r)
{
    const unsigned char *b = get_bytes(r, 4);

    return b ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8
                   | (uint32_t)b[3]
             : 0;
}

static int get_int(reader_t *r)
{
    return (int)(int32_t)get_u32(r);
}

static long get_long(reader_t *r)
{
    uint64_t hi = get_u32(r), lo = get_u32(r);

    return (long)(int64_t)(hi << 32 | lo);
}

/* The fewest bytes an element takes encoded, for the counts below. */
#define MIN_STR 4                           /* a length */
#define MIN_APP (6 * 4 + 8 * 4 + 8 + 2 * 4) /* fcgix_pm_app_t */
#define MIN_OPTS (4 + 4 * 4 + 8)            /* fcgix_pm_class_opts_t */
#define MIN_TENANT (4 + 4 + MIN_OPTS + 4)   /* fcgix_pm_tenant_t */
#define MIN_CMDOPTS (4 + MIN_OPTS)          /* fcgix_pm_cmdopts_t */

/* A count, NIL_LEN (returned as is) or at most FCGIX_PMCONF_MAX_COUNT,
 * and no more elements of at least @min bytes than the bytes left could
 * hold: a short buffer cannot ask for a large arena (each element takes
 * at most twice its encoded size decoded). */
static uint32_t get_count(reader_t *r, size_t min)
{
    uint32_t n = get_u32(r);

    if (n != NIL_LEN
        && (n > FCGIX_PMCONF_MAX_COUNT || n > (r->len - r->pos) / min)) {
        fail(r, FCGIX_PMCONF_MALFORMED);
        return 0;
    }
    return n;
}

/* A count of structs: never NULL, never negative. */
static int get_number(reader_t *r, size_t min)
{
    uint32_t n = get_count(r, min);

    if (n == NIL_LEN) {
        fail(r, FCGIX_PMCONF_MALFORMED);
        return 0;
    }
    return (int)n;
}

static const char *get_str(reader_t *r)
{
    uint32_t n = get_u32(r);
    const unsigned char *b;
    char *s;

    if (n == NIL_LEN || failed(r)) {
        return NULL;
    }
    if (n > FCGIX_PMCONF_MAX_STRING) {
        fail(r, FCGIX_PMCONF_MALFORMED);
        return NULL;
    }
    b = get_bytes(r, n);
    if (b && memchr(b, '\0', n)) {
        fail(r, FCGIX_PMCONF_MALFORMED); /* it could not round-trip */
    }
    s = take(r, (size_t)n + 1, 0);
    if (s == NULL || b == NULL) {
        return NULL;
    }
    memcpy(s, b, n);
    s[n] = '\0';
    return s;
}

static const char *const *get_list(reader_t *r)
{
    uint32_t n = get_count(r, MIN_STR);
    const char **list;

    if (n == NIL_LEN || failed(r)) {
        return NULL;
    }
    list = take(r, ((size_t)n + 1) * sizeof(*list), 1);
    for (uint32_t i = 0; list && i < n; i++) {
        list[i] = get_str(r);
        if (list[i] == NULL && !failed(r)) {
            fail(r, FCGIX_PMCONF_MALFORMED); /* a NULL would end it */
        }
    }
    if (list) {
        list[n] = NULL;
    }
    return failed(r) ? NULL : list;
}

static void get_app(reader_t *r, fcgix_pm_app_t *a)
{
    a->path = get_str(r);
    a->socket_base = get_str(r);
    a->processes = get_int(r);
    a->listen_queue_depth = get_int(r);
    a->argv = get_list(r);
    a->env = get_list(r);
    a->dir = get_str(r);
    a->restart_delay_ms = get_int(r);
    a->min_server_life_ms = get_int(r);
    a->max_requests = get_long(r);
    a->init_start_delay_ms = get_int(r);
    a->priority = get_int(r);
    a->port = get_int(r);
    a->wrapper = get_str(r);
    a->user = get_str(r);
    a->group = get_str(r);
}

static void get_class_opts(reader_t *r, fcgix_pm_class_opts_t *o)
{
    o->env = get_list(r);
    o->max_class_processes = get_int(r);
    o->min_class_processes = get_int(r);
    o->idle_ms = get_int(r);
    o->lifetime_ms = get_int(r);
    o->max_requests = get_long(r);
}

static void get_tenant(reader_t *r, fcgix_pm_tenant_t *t)
{
    fcgix_pm_cmdopts_t *cmdopts;

    t->name = get_str(r);
    t->max_processes = get_int(r);
    get_class_opts(r, &t->opts);
    t->ncmdopts = get_number(r, MIN_CMDOPTS);
    cmdopts = take(r, (size_t)t->ncmdopts * sizeof(*cmdopts), 1);
    for (int i = 0; cmdopts && i < t->ncmdopts; i++) {
        cmdopts[i].path = get_str(r);
        get_class_opts(r, &cmdopts[i].opts);
    }
    t->cmdopts = cmdopts;
}

/* An array of n structs of size each, from the arena. */
static void *take_array(reader_t *r, int n, size_t each)
{
    return take(r, (size_t)n * each, 1);
}

int fcgix_pmconf_decode(const unsigned char *buf, size_t len,
                        fcgix_pm_config_t *out, void *arena, size_t arena_size)
{
    reader_t r = {buf, len, 0, arena, arena_size, 0, FCGIX_PMCONF_OK};
    const unsigned char *magic = get_bytes(&r, 4);
    fcgix_pm_config_t c = *out;
    fcgix_pm_app_t *apps;
    fcgix_pm_tenant_t *tenants;
    fcgix_pm_command_t *commands;

    if (magic == NULL || memcmp(magic, MAGIC, 4) != 0
        || get_u32(&r) != FCGIX_PMCONF_VERSION) {
        return FCGIX_PMCONF_MALFORMED;
    }
    c.napps = get_number(&r, MIN_APP);
    apps = take_array(&r, c.napps, sizeof(*apps));
    for (int i = 0; apps && i < c.napps; i++) {
        get_app(&r, &apps[i]);
    }
    c.apps = apps;
    get_app(&r, &c.dynamic);
    c.control_path = get_str(&r);
    c.dynamic_base = get_str(&r);
    c.suexec = get_str(&r);
    c.max_processes = get_int(&r);
    c.min_processes = get_int(&r);
    c.kill_interval_ms = get_int(&r);
    c.start_wait_ms = get_int(&r);
    c.drain_ms = get_int(&r);
    c.max_user_processes = get_int(&r);
    c.fastcgi_class_max = get_int(&r);
    c.ntenants = get_number(&r, MIN_TENANT);
    tenants = take_array(&r, c.ntenants, sizeof(*tenants));
    for (int i = 0; tenants && i < c.ntenants; i++) {
        get_tenant(&r, &tenants[i]);
    }
    c.tenants = tenants;
    c.ncommands = get_number(&r, MIN_STR);
    commands = take_array(&r, c.ncommands, sizeof(*commands));
    for (int i = 0; commands && i < c.ncommands; i++) {
        commands[i].argv = get_list(&r);
    }
    c.commands = commands;
    if (!failed(&r) && r.pos != r.len) {
        fail(&r, FCGIX_PMCONF_MALFORMED);
    }
    if (!failed(&r)) {
        *out = c;
    }
    return r.status;
}

/* ------------------------------------------------------------------ */
/* Comparing                                                           */
/* ------------------------------------------------------------------ */

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int same_list(const char *const *a, const char *const *b)
{
    size_t i = 0;

    if (a == NULL || b == NULL) {
        return a == b;
    }
    for (; a[i] && b[i]; i++) {
        if (strcmp(a[i], b[i]) != 0) {
            return 0;
        }
    }
    return a[i] == NULL && b[i] == NULL;
}

int fcgix_pmconf_same_app(const fcgix_pm_app_t *a, const fcgix_pm_app_t *b)
{
    return same_str(a->path, b->path)
           && same_str(a->socket_base, b->socket_base)
           && a->processes == b->processes
           && a->listen_queue_depth == b->listen_queue_depth
           && same_list(a->argv, b->argv) && same_list(a->env, b->env)
           && same_str(a->dir, b->dir)
           && a->restart_delay_ms == b->restart_delay_ms
           && a->min_server_life_ms == b->min_server_life_ms
           && a->max_requests == b->max_requests
           && a->init_start_delay_ms == b->init_start_delay_ms
           && a->priority == b->priority && a->port == b->port
           && same_str(a->wrapper, b->wrapper) && same_str(a->user, b->user)
           && same_str(a->group, b->group);
}
