/* Licensed under the Apache License, Version 2.0 (the "License"); you may
 * not use this file except in compliance with the License. You may obtain a
 * copy of the License at http://www.apache.org/licenses/LICENSE-2.0
 */

/**
 * @file  test_pmconf.c
 * @brief cmocka unit tests of fcgi_pmconf, the PM's definitions as bytes:
 *        a round trip of a configuration that uses every field (NULLs and
 *        empty lists kept apart), the size query, every truncation, bytes
 *        left over, a wrong magic or version, a NUL in a string, counts
 *        past the limits, every arena too small, and the app comparison.
 *
 * Encodings and arenas are exactly sized allocations, so that
 * AddressSanitizer (the unit build) and valgrind (vg-unit) catch an access
 * past them.
 */

#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fcgi_pmconf.h"

/* ------------------------------------------------------------------ */
/* A configuration that uses every field                               */
/* ------------------------------------------------------------------ */

static const char *const argv_php[] = {"/usr/bin/php-cgi", "-d",
                                       "opcache.enable=1", NULL};
static const char *const env_php[] = {"PHP_FCGI_CHILDREN=0",
                                      "PHP_FCGI_MAX_REQUESTS=500", NULL};
static const char *const empty_list[] = {NULL};
static const char *const env_tenant[] = {"TZ=UTC", NULL};
static const char *const cmd_argv[] = {"/srv/a/app.fcgi", "--fast", "", NULL};

static fcgix_pm_cmdopts_t cmdopts[] = {
    {"/srv/a/app.fcgi", {env_tenant, 4, 1, 300000, 3600000, 1000}},
    {"/srv/b/x.fcgi", {NULL, 0, 0, 0, 0, 0}},
};

static fcgix_pm_tenant_t tenants[] = {
    {"a.example:80", 12, {NULL, 8, 0, 60000, 0, 0}, cmdopts, 2},
    {"b.example:443", 0, {empty_list, 0, 0, 0, 0, -1}, NULL, 0},
};

static fcgix_pm_command_t commands[] = {{cmd_argv}, {empty_list}};

static fcgix_pm_app_t apps[] = {
    {"/srv/php/php.fcgi", "/run/fcgi/abc", 4, 128, argv_php, env_php,
     "/srv/php", 1000, 30000, 500L, 10, 5, 0, NULL, NULL, NULL},
    {"/srv/www/go.fcgi", NULL, 2, 0, NULL, empty_list, NULL, 0, 0, 4000000000L,
     0, -2, 9000, "/usr/lib/apache2/suexec", "site", "site"},
};

static fcgix_pm_config_t full_config(void)
{
    fcgix_pm_config_t c;

    memset(&c, 0, sizeof(c));
    c.apps = apps;
    c.napps = 2;
    c.control_path = "/run/fcgi/control";
    c.dynamic_base = "/run/fcgi/dyn";
    c.dynamic.processes = 10;
    c.dynamic.env = env_tenant;
    c.dynamic.max_requests = 0;
    c.dynamic.restart_delay_ms = 5;
    c.max_processes = 50;
    c.min_processes = 1;
    c.kill_interval_ms = 300000;
    c.start_wait_ms = 5000;
    c.drain_ms = 60000;
    c.tenants = tenants;
    c.ntenants = 2;
    c.commands = commands;
    c.ncommands = 2;
    c.max_user_processes = 7;
    c.fastcgi_class_max = 3;
    c.suexec = NULL;
    /* not encoded: */
    c.control_fd = 9;
    c.signal_fd = 11;
    return c;
}

/* The encoding in an exactly sized allocation; *len its size. */
static unsigned char *encode(const fcgix_pm_config_t *c, size_t *len)
{
    size_t n = fcgix_pmconf_encode(c, NULL, 0);
    unsigned char *b = malloc(n);

    assert_non_null(b);
    assert_int_equal(fcgix_pmconf_encode(c, b, n), n);
    *len = n;
    return b;
}

/* Decode into a fresh exactly sized arena (freed by the caller). */
static int decode(const unsigned char *b, size_t len, size_t arena_size,
                  fcgix_pm_config_t *out, void **arena)
{
    *arena = malloc(arena_size ? arena_size : 1);
    assert_non_null(*arena);
    return fcgix_pmconf_decode(b, len, out, *arena, arena_size);
}

static size_t roomy(size_t len)
{
    return len * 4 + 4096;
}

/* ------------------------------------------------------------------ */
/* Comparing what came back, field by field                            */
/* ------------------------------------------------------------------ */

static void same_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        assert_ptr_equal(a, b);
        return;
    }
    assert_string_equal(a, b);
}

static void same_list(const char *const *a, const char *const *b)
{
    size_t i;

    if (a == NULL || b == NULL) {
        assert_ptr_equal(a, b);
        return;
    }
    for (i = 0; a[i] || b[i]; i++) {
        assert_non_null(a[i]);
        assert_non_null(b[i]);
        assert_string_equal(a[i], b[i]);
    }
}

static void same_opts(const fcgix_pm_class_opts_t *a,
                      const fcgix_pm_class_opts_t *b)
{
    same_list(a->env, b->env);
    assert_int_equal(a->max_class_processes, b->max_class_processes);
    assert_int_equal(a->min_class_processes, b->min_class_processes);
    assert_int_equal(a->idle_ms, b->idle_ms);
    assert_int_equal(a->lifetime_ms, b->lifetime_ms);
    assert_int_equal(a->max_requests, b->max_requests);
}

static void same_config(const fcgix_pm_config_t *a, const fcgix_pm_config_t *b)
{
    int i, j;

    assert_int_equal(a->napps, b->napps);
    for (i = 0; i < a->napps; i++) {
        assert_true(fcgix_pmconf_same_app(&a->apps[i], &b->apps[i]));
        same_str(a->apps[i].path, b->apps[i].path);
        same_list(a->apps[i].argv, b->apps[i].argv);
        same_list(a->apps[i].env, b->apps[i].env);
    }
    assert_true(fcgix_pmconf_same_app(&a->dynamic, &b->dynamic));
    same_str(a->control_path, b->control_path);
    same_str(a->dynamic_base, b->dynamic_base);
    same_str(a->suexec, b->suexec);
    assert_int_equal(a->max_processes, b->max_processes);
    assert_int_equal(a->min_processes, b->min_processes);
    assert_int_equal(a->kill_interval_ms, b->kill_interval_ms);
    assert_int_equal(a->start_wait_ms, b->start_wait_ms);
    assert_int_equal(a->drain_ms, b->drain_ms);
    assert_int_equal(a->max_user_processes, b->max_user_processes);
    assert_int_equal(a->fastcgi_class_max, b->fastcgi_class_max);
    assert_int_equal(a->ntenants, b->ntenants);
    for (i = 0; i < a->ntenants; i++) {
        same_str(a->tenants[i].name, b->tenants[i].name);
        assert_int_equal(a->tenants[i].max_processes,
                         b->tenants[i].max_processes);
        same_opts(&a->tenants[i].opts, &b->tenants[i].opts);
        assert_int_equal(a->tenants[i].ncmdopts, b->tenants[i].ncmdopts);
        for (j = 0; j < a->tenants[i].ncmdopts; j++) {
            same_str(a->tenants[i].cmdopts[j].path,
                     b->tenants[i].cmdopts[j].path);
            same_opts(&a->tenants[i].cmdopts[j].opts,
                      &b->tenants[i].cmdopts[j].opts);
        }
    }
    assert_int_equal(a->ncommands, b->ncommands);
    for (i = 0; i < a->ncommands; i++) {
        same_list(a->commands[i].argv, b->commands[i].argv);
    }
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */
/* ------------------------------------------------------------------ */

static void test_round_trip_every_field(void **state)
{
    fcgix_pm_config_t c = full_config(), d;
    size_t len;
    unsigned char *b = encode(&c, &len);
    void *arena;

    (void)state;
    memset(&d, 0, sizeof(d));
    d.control_fd = 42; /* not encoded: left alone */
    assert_int_equal(decode(b, len, roomy(len), &d, &arena), FCGIX_PMCONF_OK);
    same_config(&c, &d);
    assert_int_equal(d.control_fd, 42);
    assert_int_equal(d.signal_fd, 0);
    /* NULL and an empty list stay apart */
    assert_null(d.apps[1].argv);
    assert_non_null(d.apps[1].env);
    assert_null(d.apps[1].env[0]);
    /* an empty string in a list survives */
    assert_string_equal(d.commands[0].argv[2], "");
    /* the decoded configuration encodes to the same bytes */
    {
        size_t len2;
        unsigned char *b2 = encode(&d, &len2);

        assert_int_equal(len2, len);
        assert_memory_equal(b2, b, len);
        free(b2);
    }
    free(arena);
    free(b);
}

static void test_empty_configuration(void **state)
{
    fcgix_pm_config_t c, d;
    size_t len;
    unsigned char *b;
    void *arena;

    (void)state;
    memset(&c, 0, sizeof(c));
    memset(&d, 0xff, sizeof(d));
    b = encode(&c, &len);
    assert_int_equal(decode(b, len, roomy(len), &d, &arena), FCGIX_PMCONF_OK);
    assert_int_equal(d.napps, 0);
    assert_int_equal(d.ntenants, 0);
    assert_int_equal(d.ncommands, 0);
    assert_null(d.dynamic.path);
    assert_null(d.control_path);
    free(arena);
    free(b);
}

static void test_size_query_writes_nothing_past_the_buffer(void **state)
{
    fcgix_pm_config_t c = full_config();
    size_t n = fcgix_pmconf_encode(&c, NULL, 0);
    unsigned char *small = malloc(n - 1);

    (void)state;
    assert_non_null(small);
    /* exactly sized: ASan reports a write past it */
    assert_int_equal(fcgix_pmconf_encode(&c, small, n - 1), n);
    assert_memory_equal(small, "FXPC", 4);
    free(small);
}

static void test_every_truncation_is_malformed(void **state)
{
    fcgix_pm_config_t c = full_config(), d;
    size_t len, cut;
    unsigned char *b = encode(&c, &len);

    (void)state;
    for (cut = 0; cut < len; cut++) {
        unsigned char *part = malloc(cut ? cut : 1);
        void *arena;

        memcpy(part, b, cut);
        memset(&d, 0, sizeof(d));
        assert_int_equal(decode(part, cut, roomy(len), &d, &arena),
                         FCGIX_PMCONF_MALFORMED);
        assert_int_equal(d.napps, 0); /* nothing half-written */
        free(arena);
        free(part);
    }
    free(b);
}

static void test_bytes_left_over_are_malformed(void **state)
{
    fcgix_pm_config_t c = full_config(), d;
    size_t len;
    unsigned char *b = encode(&c, &len), *more = malloc(len + 1);
    void *arena;

    (void)state;
    memcpy(more, b, len);
    more[len] = 0;
    assert_int_equal(decode(more, len + 1, roomy(len), &d, &arena),
                     FCGIX_PMCONF_MALFORMED);
    free(arena);
    free(more);
    free(b);
}

static void test_magic_and_version(void **state)
{
    fcgix_pm_config_t c, d;
    size_t len;
    unsigned char *b;
    void *arena;

    (void)state;
    memset(&c, 0, sizeof(c));
    b = encode(&c, &len);
    b[0] = 'X';
    assert_int_equal(decode(b, len, roomy(len), &d, &arena),
                     FCGIX_PMCONF_MALFORMED);
    free(arena);
    b[0] = 'F';
    b[7] = FCGIX_PMCONF_VERSION + 1; /* the version's low byte */
    assert_int_equal(decode(b, len, roomy(len), &d, &arena),
                     FCGIX_PMCONF_MALFORMED);
    free(arena);
    b[7] = FCGIX_PMCONF_VERSION;
    assert_int_equal(decode(b, len, roomy(len), &d, &arena), FCGIX_PMCONF_OK);
    free(arena);
    free(b);
}

/* Bytes of an empty configuration with its first field (napps) set to
 * n, followed by @extra zero bytes. */
static unsigned char *with_napps(uint32_t n, size_t extra, size_t *len)
{
    fcgix_pm_config_t c;
    size_t base;
    unsigned char *b, *out;

    memset(&c, 0, sizeof(c));
    b = encode(&c, &base);
    out = calloc(1, base + extra);
    memcpy(out, b, base);
    out[8] = (unsigned char)(n >> 24);
    out[9] = (unsigned char)(n >> 16);
    out[10] = (unsigned char)(n >> 8);
    out[11] = (unsigned char)n;
    free(b);
    *len = base + extra;
    return out;
}

static void test_counts_past_the_limits(void **state)
{
    fcgix_pm_config_t d;
    size_t len;
    unsigned char *b;
    void *arena;

    (void)state;
    /* more than the bytes left could hold: malformed, not an arena ask */
    b = with_napps(1000, 0, &len);
    assert_int_equal(decode(b, len, 1 << 20, &d, &arena),
                     FCGIX_PMCONF_MALFORMED);
    free(arena);
    free(b);
    /* past the limit however many bytes follow */
    b = with_napps(FCGIX_PMCONF_MAX_COUNT + 1, 4 * (FCGIX_PMCONF_MAX_COUNT + 1),
                   &len);
    assert_int_equal(decode(b, len, 1 << 20, &d, &arena),
                     FCGIX_PMCONF_MALFORMED);
    free(arena);
    free(b);
    /* a negative count is NIL_LEN or huge: never a NULL array */
    b = with_napps(0xFFFFFFFFu, 0, &len);
    assert_int_equal(decode(b, len, 1 << 20, &d, &arena),
                     FCGIX_PMCONF_MALFORMED);
    free(arena);
    free(b);
}

static void test_nul_in_a_string_is_malformed(void **state)
{
    fcgix_pm_config_t c, d;
    size_t len;
    unsigned char *b;
    void *arena;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.control_path = "/run/xyz";
    b = encode(&c, &len);
    {
        int changed = 0;

        for (size_t i = 0; i + 3 <= len && !changed; i++) {
            if (memcmp(b + i, "xyz", 3) == 0) {
                b[i + 1] = '\0';
                changed = 1;
            }
        }
        assert_true(changed);
    }
    assert_int_equal(decode(b, len, roomy(len), &d, &arena),
                     FCGIX_PMCONF_MALFORMED);
    free(arena);
    free(b);
}

static void test_every_arena_too_small(void **state)
{
    fcgix_pm_config_t c = full_config(), d;
    size_t len, size, need = 0;
    unsigned char *b = encode(&c, &len);
    void *arena;

    (void)state;
    for (size = 0; size <= roomy(len); size++) {
        int rc;

        memset(&d, 0, sizeof(d));
        rc = decode(b, len, size, &d, &arena);
        free(arena);
        if (rc == FCGIX_PMCONF_OK) {
            need = size;
            break;
        }
        assert_int_equal(rc, FCGIX_PMCONF_NO_ROOM);
        assert_int_equal(d.napps, 0);
    }
    assert_true(need > 0);
    assert_true(need <= roomy(len));
    free(b);
}

static void test_same_app(void **state)
{
    fcgix_pm_app_t a = apps[0], b = apps[0];
    static const char *const other_argv[] = {"/usr/bin/php-cgi", "-d",
                                             "opcache.enable=0", NULL};
    static const char *const shorter[] = {"/usr/bin/php-cgi", "-d", NULL};

    (void)state;
    assert_true(fcgix_pmconf_same_app(&a, &b));
    b.argv = other_argv;
    assert_false(fcgix_pmconf_same_app(&a, &b));
    b.argv = shorter;
    assert_false(fcgix_pmconf_same_app(&a, &b));
    b = a;
    b.env = NULL;
    assert_false(fcgix_pmconf_same_app(&a, &b));
    b = a;
    b.processes = 5;
    assert_false(fcgix_pmconf_same_app(&a, &b));
    b = a;
    b.user = "other";
    assert_false(fcgix_pmconf_same_app(&a, &b));
    b = a;
    b.max_requests = 501;
    assert_false(fcgix_pmconf_same_app(&a, &b));
    b = apps[1];
    a = apps[1];
    b.env = NULL; /* NULL is not an empty list */
    assert_false(fcgix_pmconf_same_app(&a, &b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_field),
        cmocka_unit_test(test_empty_configuration),
        cmocka_unit_test(test_size_query_writes_nothing_past_the_buffer),
        cmocka_unit_test(test_every_truncation_is_malformed),
        cmocka_unit_test(test_bytes_left_over_are_malformed),
        cmocka_unit_test(test_magic_and_version),
        cmocka_unit_test(test_counts_past_the_limits),
        cmocka_unit_test(test_nul_in_a_string_is_malformed),
        cmocka_unit_test(test_every_arena_too_small),
        cmocka_unit_test(test_same_app),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
